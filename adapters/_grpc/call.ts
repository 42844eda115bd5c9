/**
 * Promise- and async-iterator-shaped gRPC calls with `AbortSignal` support
 * on top of grpc-js' callback and stream APIs.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import type { MethodDefinition } from "@grpc/proto-loader";

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
  const { signal } = options;
  const highWaterMark = options.highWaterMark ?? 256;
  const queue: Res[] = [];
  let failure: unknown = undefined;
  let done = false;
  let paused = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  const call = client.makeServerStreamRequest<Req, Res>(
    method.path,
    method.requestSerialize,
    method.responseDeserialize,
    request,
    options.metadata ?? new grpc.Metadata(),
    {},
  );
  const finish = (err?: unknown) => {
    if (done) return;
    done = true;
    if (err !== undefined) failure = err;
    signal?.removeEventListener("abort", cancel);
    notify();
  };
  function cancel() {
    if (done) return;
    finish();
    call.cancel();
  }
  call.on("data", (message: Res) => {
    if (done) return;
    queue.push(message);
    if (queue.length > highWaterMark && !paused) {
      paused = true;
      call.pause();
    }
    notify();
  });
  // Cancelling on our side surfaces as a CANCELLED error: done is set first
  // so it is ignored.
  call.on("error", (err) => finish(err));
  call.on("end", () => finish());
  if (signal?.aborted) cancel();
  else signal?.addEventListener("abort", cancel, { once: true });

  const iterator: ServerStream<Res> = {
    call,
    cancel,
    async next(): Promise<IteratorResult<Res>> {
      while (true) {
        if (queue.length > 0) {
          const value = queue.shift()!;
          if (paused && queue.length <= highWaterMark / 2 && !done) {
            paused = false;
            call.resume();
          }
          return { value, done: false };
        }
        if (done) {
          if (failure !== undefined) {
            const err = failure;
            failure = undefined;
            throw err;
          }
          return { value: undefined, done: true };
        }
        await new Promise<void>((resolve) => wake = resolve);
      }
    },
    return(): Promise<IteratorResult<Res>> {
      cancel();
      queue.length = 0;
      failure = undefined;
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return iterator;
}
