// The tests' one event recorder: one subscription of a watcher (or a
// fleet) read from construction until stopped, with waits on what arrived
// and a marker round trip that proves nothing more is on its way.
import type { Watcher, WatcherEvent } from "../../watcher/mod.ts";
import { waitFor } from "../engines/rig.ts";

/** What the recorder needs of an event. */
export interface RecordedEvent {
  type: string;
  id: string;
}

/** Something with a subscription: a Watcher or a Fleet. */
export interface EventSource<E> {
  events(options: { signal?: AbortSignal; queueSize?: number }): AsyncIterable<
    E
  >;
}

/**
 * A container the test starts and stops after an action: its start and exit
 * come after every event the action caused (the engine's stream is
 * ordered, and the watcher handles it in order; a start after its
 * inspection). `start` returns the ID the watcher shows.
 */
export interface Marker {
  start(): Promise<string>;
  stop(id: string): Promise<void>;
}

/** Collects the events of one subscription until stopped. */
export class EventRecorder<E extends RecordedEvent = WatcherEvent> {
  /** The events, in order (none when constructed with `keep: false`). */
  readonly events: E[] = [];
  /** How many events arrived. */
  count = 0;
  /** How the subscription ended abnormally, if it did. */
  error: unknown;
  #done: Promise<void>;
  #abort = new AbortController();

  /**
   * Subscribes at once (so a recorder made before `watch()` also sees the
   * synthetic starts of the first list). `onEvent` sees each event as it
   * arrives; `keep: false` keeps none (long runs).
   */
  constructor(
    source: EventSource<E>,
    options: {
      queueSize?: number;
      keep?: boolean;
      onEvent?: (event: E) => void;
    } = {},
  ) {
    const sub = source.events({
      signal: this.#abort.signal,
      queueSize: options.queueSize,
    });
    const keep = options.keep ?? true;
    this.#done = (async () => {
      try {
        for await (const e of sub) {
          this.count++;
          if (keep) this.events.push(e);
          options.onEvent?.(e);
        }
      } catch (err) {
        this.error = err;
      }
    })();
  }

  /** Events of the given containers, as `type:id` strings. */
  of(ids: Iterable<string>): string[] {
    const wanted = new Set(ids);
    return this.events.filter((e) => wanted.has(e.id)).map((e) =>
      `${e.type}:${e.id}`
    );
  }

  /** Waits until the events of `ids` number at least `count`. */
  async waitFor(ids: Iterable<string>, count: number): Promise<void> {
    const list = [...ids];
    await this.until(
      () => this.of(list).length >= count,
      `${count} events of ${list.join(", ")}`,
    );
  }

  /** Waits until `predicate` holds for the events so far. */
  async until(
    predicate: (events: E[]) => boolean,
    what: string,
    options: { timeoutMs?: number } = {},
  ): Promise<void> {
    await waitFor(() => predicate(this.events), {
      what: () =>
        `${what}; the subscription ${
          this.error ? `failed: ${this.error}` : "is open"
        }, events: ${this.events.map((e) => `${e.type}:${e.id}`).join(" ")}`,
      timeoutMs: options.timeoutMs ?? 30_000,
    });
  }

  /**
   * Starts and stops a marker container and waits for both its events:
   * everything the engine emitted before has then arrived too.
   */
  async settle(marker: Marker): Promise<void> {
    const id = await marker.start();
    await this.waitFor([id], 1);
    await marker.stop(id);
    await this.waitFor([id], 2);
  }

  /** Ends the subscription. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#done;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/**
 * Starts `watcher.watch()` and waits for its first sync (failing after
 * `timeoutMs`, default 30 s, instead of hanging). Disposing the result
 * closes the watcher and waits until `watch()` ended (a failure of the
 * watch fails the test there).
 */
export async function watchReady(
  watcher: Watcher,
  options: { timeoutMs?: number } = {},
): Promise<AsyncDisposable> {
  const watching = watcher.watch();
  const close = async () => {
    await watcher.close();
    await watching;
  };
  const limit = options.timeoutMs ?? 30_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      watcher.ready,
      new Promise((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `watcher of ${watcher.engine.api} not ready after ${limit} ms`,
              ),
            ),
          limit,
        );
      }),
    ]);
  } catch (err) {
    await close().catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return { [Symbol.asyncDispose]: close };
}
