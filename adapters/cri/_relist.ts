/**
 * The relisting fallback of the CRI adaptor (internal): for runtimes
 * without `GetContainerEvents`, the alive set is listed every interval and
 * the difference reported as events.
 *
 * @module
 */

import type { ContainerEvent } from "../../engineclient/mod.ts";
import { delay } from "../../engineclient/_async.ts";

/** Events that turn the alive set `before` into `after`: exits first. */
export function aliveDiff(
  before: ReadonlySet<string>,
  after: ReadonlySet<string>,
): { exited: string[]; started: string[] } {
  const exited: string[] = [];
  const started: string[] = [];
  for (const id of before) if (!after.has(id)) exited.push(id);
  for (const id of after) if (!before.has(id)) started.push(id);
  return { exited, started };
}

/**
 * Yields the difference between consecutive alive sets, listed by `alive`
 * every `intervalMs` after the `baseline`; ends quietly when `signal`
 * aborts, throws `failure(err)` when a listing fails.
 */
export async function* relistEvents(
  baseline: Set<string>,
  alive: (signal: AbortSignal) => Promise<Set<string>>,
  options: {
    intervalMs: number;
    signal: AbortSignal;
    project: string;
    failure: (err: unknown) => unknown;
  },
): AsyncGenerator<ContainerEvent> {
  const { signal, project } = options;
  let before = baseline;
  while (true) {
    try {
      await delay(options.intervalMs, signal);
    } catch {
      return;
    }
    let now: Set<string>;
    try {
      now = await alive(signal);
    } catch (err) {
      if (signal.aborted) return;
      throw options.failure(err);
    }
    const timestamp = Date.now();
    const { exited, started } = aliveDiff(before, now);
    before = now;
    for (const id of exited) yield { type: "exited", id, project, timestamp };
    for (const id of started) yield { type: "started", id, project, timestamp };
  }
}
