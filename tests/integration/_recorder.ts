// Records a watcher's events for integration tests, and compares a
// portfolio with an engine's truth.
import type { Watcher, WatcherEvent } from "../../watcher/mod.ts";
import { waitFor } from "../engines/rig.ts";

/** Collects every event of one subscription until stopped. */
export class EventRecorder {
  readonly events: WatcherEvent[] = [];
  #done: Promise<void>;
  #abort = new AbortController();
  error: unknown;

  constructor(watcher: Watcher) {
    const sub = watcher.events({ signal: this.#abort.signal });
    this.#done = (async () => {
      try {
        for await (const e of sub) this.events.push(e);
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
    await waitFor(() => this.of(list).length >= count, {
      what: `${count} events of ${list.join(", ")} (have ${
        this.of(list).join(" ")
      })`,
      timeoutMs: 20_000,
    });
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#done;
  }
}
