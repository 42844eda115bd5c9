// One Server-Sent Events client (internal): a response body with a bounded
// queue, counted in events. A client whose queue is full when more comes is
// dropped at once (its connection closed), so that it never holds the
// others up or grows without bound.
import type { Filters } from "./_model.ts";

const encoder = new TextEncoder();

/** Bytes as response bodies take them. */
export type Bytes = Uint8Array<ArrayBuffer>;

/** Why a client's stream ended. */
export type EndReason = "dropped" | "gone" | "closed";

/**
 * The reason a client's stream is errored with when the agent ends it:
 * Deno reports errored response bodies to `Deno.serve`'s `onError`, which
 * stays quiet for this one.
 */
export class ClientEndedError extends Error {
  /** Why. */
  readonly reason: EndReason;
  constructor(reason: EndReason) {
    super(`server-sent events client ${reason}`);
    this.name = "ClientEndedError";
    this.reason = reason;
  }
}

/** An SSE event as bytes: `id`, `event` and one `data` line of JSON. */
export function sseFrame(id: number, event: string, data: unknown): Bytes {
  // JSON.stringify escapes line breaks, so the data is one line.
  return encoder.encode(
    `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`,
  );
}

/** A comment line (ignored by clients; keeps proxies from closing). */
export function sseComment(text: string): Bytes {
  return encoder.encode(`: ${text.replace(/[\r\n]+/g, " ")}\n\n`);
}

/** Several chunks as one. */
export function concat(chunks: readonly Bytes[]): Bytes {
  if (chunks.length === 1) return chunks[0];
  let size = 0;
  for (const c of chunks) size += c.byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

// How many events a chunk holds, for the queues' size: one chunk (shared
// by the clients it goes to) carries the events of one turn.
const eventsIn = new WeakMap<Bytes, number>();

/** Marks `chunk` as holding `events` events; returns it. */
export function counted(chunk: Bytes, events: number): Bytes {
  eventsIn.set(chunk, events);
  return chunk;
}

/** One connected /events client. */
export class SseClient {
  /** The response body. */
  readonly body: ReadableStream<Bytes>;
  /** What this client asked to see. */
  readonly filters: Filters;
  /** Groups clients that see the same events (same filters). */
  readonly group: string;
  #controller!: ReadableStreamDefaultController<Bytes>;
  #ended = false;
  #onEnd: (client: SseClient, reason: EndReason) => void;

  constructor(
    options: {
      queueSize: number;
      filters: Filters;
      onEnd: (client: SseClient, reason: EndReason) => void;
    },
  ) {
    this.filters = options.filters;
    this.group = JSON.stringify(options.filters);
    this.#onEnd = options.onEnd;
    this.body = new ReadableStream<Bytes>({
      start: (controller) => {
        this.#controller = controller;
      },
      // The client went away (or Deno gave up writing to it).
      cancel: () => this.#end("gone"),
    }, {
      highWaterMark: options.queueSize,
      size: (chunk) => eventsIn.get(chunk!) ?? 1,
    });
  }

  /** Whether the client has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Queues a chunk unless the events queued before it already fill the
   * queue: then the client is dropped. (A chunk larger than the queue is
   * taken when the queue is empty: a burst does not drop a reader that
   * keeps up.) Returns whether the client is still there.
   */
  send(chunk: Bytes): boolean {
    if (this.#ended) return false;
    const room = this.#controller.desiredSize;
    if (room !== null && room <= 0) {
      this.end("dropped");
      return false;
    }
    this.#controller.enqueue(chunk);
    return true;
  }

  /** Ends the stream at once (queued chunks are discarded). */
  end(reason: EndReason): void {
    if (this.#ended) return;
    this.#controller.error(new ClientEndedError(reason));
    this.#end(reason);
  }

  #end(reason: EndReason): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#onEnd(this, reason);
  }
}
