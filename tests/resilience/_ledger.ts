// What one subscriber of the resilience scripts saw: a ledger of each
// container's last lifecycle state and the sequence errors.
import type { Watcher, WatcherEvent } from "../../watcher/mod.ts";
import type { Truth } from "../engines/truth.ts";
import { EventRecorder } from "../integration/_recorder.ts";

/**
 * What one subscriber saw, per container: the last lifecycle state and
 * sequence errors (a `started` for an alive container, an `exited` for one
 * not alive). Subscribes at construction, before the watch starts, so it
 * also sees the synthetic starts of the first list.
 */
export class Ledger {
  /** ID → alive after the last event seen. */
  readonly alive: Map<string, boolean> = new Map();
  /** Sequence errors, as text. */
  readonly inconsistent: string[] = [];
  readonly #recorder: EventRecorder;

  constructor(watcher: Watcher, options: { queueSize?: number } = {}) {
    this.#recorder = new EventRecorder(watcher, {
      queueSize: options.queueSize ?? 1_000_000,
      keep: false,
      onEvent: (e) => this.#see(e),
    });
  }

  /** Events seen. */
  get events(): number {
    return this.#recorder.count;
  }

  /** How the subscription ended abnormally, if it did. */
  get error(): unknown {
    return this.#recorder.error;
  }

  #see(e: WatcherEvent): void {
    const was = this.alive.get(e.id) ?? false;
    if (e.type === "started") {
      if (was) this.inconsistent.push(`started twice: ${e.id}`);
      this.alive.set(e.id, true);
    } else if (e.type === "exited") {
      if (!was) this.inconsistent.push(`exited while not alive: ${e.id}`);
      this.alive.set(e.id, false);
    } else if (!was) {
      this.inconsistent.push(`${e.type} while not alive: ${e.id}`);
    }
  }

  /** IDs whose last event was `started` but that are not in `truth`. */
  unmatched(truth: Truth): string[] {
    return [...this.alive].filter(([id, alive]) => alive && !truth.has(id))
      .map(([id]) => id);
  }

  /** Ends the subscription. */
  stop(): Promise<void> {
    return this.#recorder.stop();
  }
}
