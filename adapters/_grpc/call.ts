/**
 * Promise- and async-iterator-shaped gRPC calls with `AbortSignal` support
 * on top of grpc-js' callback and stream APIs.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import type { MethodDefinition } from "@grpc/proto-loader";
import { AsyncQueue } from "../../engineclient/_async.ts";
import { connectFailure } from "../../engineclient/_failures.ts";
import { NotAnEngineError } from "../../engineclient/mod.ts";

/**
 * Options of {@linkcode unaryCall} and {@linkcode serverStream}.
 *
 * @example
 * ```ts ignore
 * const options: GrpcCallOptions = { signal: AbortSignal.timeout(1000) };
 * ```
 */
export interface GrpcCallOptions {
  /** Request metadata (headers). */
  metadata?: grpc.Metadata;
  /** Aborts the call; it then rejects (or ends) with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Whether an error is a gRPC status error with `code`.
 *
 * @example
 * ```ts ignore
 * import * as grpc from "@grpc/grpc-js";
 * if (isGrpcStatus(err, grpc.status.NOT_FOUND)) console.log("gone");
 * ```
 */
export function isGrpcStatus(error: unknown, code: grpc.status): boolean {
  return typeof error === "object" && error !== null &&
    (error as { code?: unknown }).code === code &&
    "details" in error;
}

/**
 * Makes one unary call; rejects with the gRPC error (which has `code` and
 * `details`) or, when aborted, with the signal's reason (the call is then
 * cancelled).
 *
 * @example
 * ```ts ignore
 * const res = await unaryCall(client, protos.method("pkg.Svc", "Get"), { id: "x" });
 * ```
 */
export function unaryCall<Req, Res>(
  client: grpc.Client,
  method: MethodDefinition<Req, Res>,
  request: Req,
  options: GrpcCallOptions = {},
): Promise<Res> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<Res>((resolve, reject) => {
    const onAbort = () => {
      call.cancel();
      reject(signal!.reason);
    };
    const call = client.makeUnaryRequest<Req, Res>(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      options.metadata ?? new grpc.Metadata(),
      {},
      (err, value) => {
        signal?.removeEventListener("abort", onAbort);
        if (signal?.aborted) return; // already rejected
        if (err) reject(err);
        else resolve(value as Res);
      },
    );
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * A running server-streaming call as an async iterator.
 *
 * @example
 * ```ts ignore
 * const stream = serverStream(client, method, {}, { signal });
 * for await (const message of stream) console.log(message);
 * ```
 */
export interface ServerStream<T> extends AsyncIterableIterator<T> {
  /** The underlying grpc-js call. */
  readonly call: grpc.ClientReadableStream<T>;
  /** Cancels the call; iteration then ends quietly. Idempotent. */
  cancel(): void;
}

/**
 * Starts a server-streaming call and returns it as an async iterator:
 * messages in order (buffered with flow control: the call is paused while
 * more than `highWaterMark` messages wait); iteration throws the gRPC
 * error when the stream fails, ends quietly when the server ends it, when
 * the signal is aborted or when iteration is broken off (the call is then
 * cancelled).
 *
 * @example
 * ```ts ignore
 * for await (const envelope of serverStream(client, subscribe, { filters: [] })) {
 *   console.log(envelope.topic);
 * }
 * ```
 */
export function serverStream<Req, Res>(
  client: grpc.Client,
  method: MethodDefinition<Req, Res>,
  request: Req,
  options: GrpcCallOptions & { highWaterMark?: number } = {},
): ServerStream<Res> {
  const call = client.makeServerStreamRequest<Req, Res>(
    method.path,
    method.requestSerialize,
    method.responseDeserialize,
    request,
    options.metadata ?? new grpc.Metadata(),
    {},
  );
  // Ending the queue (abort, cancel, break) cancels the call; the CANCELLED
  // error that follows finds the queue ended and is ignored.
  const queue = new AsyncQueue<Res>({
    highWaterMark: options.highWaterMark ?? 256,
    onHigh: () => call.pause(),
    onLow: () => call.resume(),
    signal: options.signal,
    onEnd: () => call.cancel(),
  });
  call.on("data", (message: Res) => queue.push(message));
  call.on("error", (err) => queue.end(err));
  call.on("end", () => queue.end());
  return Object.assign(queue, { call, cancel: () => queue.end() });
}

// grpc-js says only in text why no HTTP/2 connection came up: a peer that
// accepted the connection and then broke it (EPIPE, reset, a protocol
// error) is something else than a gRPC server; a refusal is not (the
// engine may be restarting).
function notGrpcPeer(error: unknown, detail: string): boolean {
  return (error as { code?: unknown })?.code === grpc.status.UNAVAILABLE &&
    /No connection established/.test(detail) &&
    /EPIPE|ECONNRESET|Protocol error|HTTP/.test(detail);
}

/**
 * The error to raise for a failed gRPC call on `endpoint`: the abort reason
 * when `signal` aborted, the contract's typed error when the failure says
 * the socket is missing or forbidden, else an error naming the endpoint
 * that keeps the gRPC `code`.
 *
 * @example
 * ```ts ignore
 * throw grpcFailure("list", "/run/containerd/containerd.sock", err, { engine: "containerd.io" });
 * ```
 */
export function grpcFailure(
  what: string,
  endpoint: string,
  error: unknown,
  options: { engine?: string; signal?: AbortSignal } = {},
): unknown {
  if (options.signal?.aborted) return options.signal.reason;
  const typed = connectFailure(endpoint, error, { engine: options.engine });
  if (typed) return typed;
  const detail = (error as { details?: string })?.details ||
    (error as Error)?.message || String(error);
  if (notGrpcPeer(error, detail)) {
    return new NotAnEngineError(endpoint, {
      engine: options.engine,
      cause: error,
      detail: `it accepts connections but does not speak gRPC (${detail})`,
    });
  }
  const wrapped = new Error(
    `${options.engine ?? "gRPC"} ${what} on "${endpoint}" failed: ${detail}`,
    { cause: error },
  );
  (wrapped as { code?: unknown }).code = (error as { code?: unknown })?.code;
  return wrapped;
}
