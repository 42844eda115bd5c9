/**
 * Small shared gRPC helpers of the gRPC-based adaptors (containerd, CRI):
 * loading embedded protos, endpoint targets, abortable unary calls and
 * server streams as async iterators. Internal: not part of the public API.
 *
 * @example
 * ```ts ignore
 * import { grpcTarget, loadProtos, unaryCall } from "../_grpc/mod.ts";
 * ```
 *
 * @module
 */

export * from "./proto.ts";
export * from "./target.ts";
export * from "./call.ts";
