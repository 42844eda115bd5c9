// The watcher tests' harness: a watcher over a fake engine, and readers of
// its subscriptions.
import {
  Watcher,
  type WatcherEvent,
  type WatcherOptions,
} from "../../watcher/mod.ts";
import { assert } from "../_assert.ts";
import { FakeEngine, flush } from "./_fake_engine.ts";

/** Fast backoff for tests. */
export const FAST: WatcherOptions = {
  backoff: { initialMs: 1, maxMs: 2, jitter: 0 },
};

/** Starts a watcher over a fake engine; disposing tears everything down. */
export function setup<E extends FakeEngine = FakeEngine>(
  options: WatcherOptions = FAST,
  engine: E = new FakeEngine() as E,
) {
  const watcher = new Watcher(engine, options);
  const controller = new AbortController();
  let watching: Promise<void> | undefined;
  return {
    engine,
    watcher,
    controller,
    watch() {
      watching = watcher.watch(controller.signal);
      watching.catch(() => {});
      return watching;
    },
    async [Symbol.asyncDispose]() {
      controller.abort();
      await watching?.catch(() => {});
      await watcher.close();
    },
  };
}

/** A subscription. */
export type Sub = AsyncIterableIterator<WatcherEvent>;

/** Takes the next `n` events as "type id" lines. */
export async function take(sub: Sub, n: number): Promise<string[]> {
  const got: string[] = [];
  while (got.length < n) {
    const r = await sub.next();
    if (r.done) throw new Error(`subscription ended after ${got.length}`);
    got.push(`${r.value.type} ${r.value.id}`);
  }
  return got;
}

/** Events already delivered to `sub` (without waiting for more). */
export async function drain(sub: Sub): Promise<string[]> {
  await flush();
  const got: string[] = [];
  for (;;) {
    const r = await Promise.race([sub.next(), flush().then(() => null)]);
    if (r === null) {
      // A next() is pending now; leave it to the subscription's end.
      return got;
    }
    if (r.done) return got;
    got.push(`${r.value.type} ${r.value.id}`);
  }
}

/** The portfolio's IDs, sorted. */
export function ids(watcher: Watcher): string[] {
  return watcher.portfolio.containers().map((c) => c.id).sort();
}

/**
 * Checks a subscriber's "type id" lines as a lifecycle: no started twice,
 * no exit or pause of a container not started. Returns the IDs alive in the
 * subscriber's view, sorted.
 */
export function checkLifecycle(lines: string[]): { alive: string[] } {
  const seen = new Map<string, boolean>();
  for (const line of lines) {
    const [type, id] = line.split(" ");
    if (type === "started") {
      assert(!seen.get(id), `started twice: ${id}`);
      seen.set(id, true);
    } else if (type === "exited") {
      assert(seen.get(id), `exited without started: ${id}`);
      seen.set(id, false);
    } else {
      assert(seen.get(id), `${type} of a container not started: ${id}`);
    }
  }
  const alive = [...seen].filter(([, a]) => a).map(([id]) => id).sort();
  return { alive };
}

/** Everything a subscription delivers, as "type id" lines, read as it comes. */
export class Recorded {
  /** The lines so far. */
  readonly lines: string[] = [];
  #read = 0;
  readonly #done: Promise<void>;

  constructor(sub: Sub) {
    this.#done = (async () => {
      for await (const e of sub) this.lines.push(`${e.type} ${e.id}`);
    })().catch(() => {});
  }

  /** The next `n` lines not taken yet; fails after a deadline. */
  async take(n: number): Promise<string[]> {
    const deadline = performance.now() + 2000;
    while (this.lines.length < this.#read + n) {
      if (performance.now() > deadline) {
        throw new Error(
          `expected ${n} more events, got [${
            this.lines.slice(this.#read).join(", ")
          }]`,
        );
      }
      await flush();
    }
    const got = this.lines.slice(this.#read, this.#read + n);
    this.#read += n;
    return got;
  }

  /** The lines delivered and not taken yet (after letting reactions run). */
  async rest(): Promise<string[]> {
    await flush();
    const got = this.lines.slice(this.#read);
    this.#read = this.lines.length;
    return got;
  }

  /** Resolves when the subscription has ended. */
  ended(): Promise<void> {
    return this.#done;
  }
}
