/**
 * The relisting fallback's diff and abortable sleep (internal).
 *
 * @module
 */

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

/** Resolves after `ms`, or at once (to `false`) when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Maps `items` with `fn`, running at most `limit` calls at once. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        results[i] = await fn(items[i]);
      } catch (err) {
        failed = true; // stop starting calls: the result is thrown away
        throw err;
      }
    }
  };
  const workers = [];
  for (let w = 0; w < Math.max(1, Math.min(limit, items.length)); w++) {
    workers.push(worker());
  }
  await Promise.all(workers);
  return results;
}
