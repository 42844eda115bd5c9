// Comparing what a watcher shows with what an engine says is alive. Each
// engine's own query lives with its command line helper: DockerCli.truth
// (dockerd and podman), Ctr.truth (containerd), CriTestClient.truth (CRI).
import type { Container } from "../../engineclient/mod.ts";

/** Alive (running or paused) containers: ID → PID and paused. */
export type Truth = Map<string, { pid: number; paused: boolean }>;

/** Containers (a portfolio, a list) as a {@linkcode Truth}. */
export function viewOf(containers: Iterable<Container>): Truth {
  const view: Truth = new Map();
  for (const c of containers) view.set(c.id, { pid: c.pid, paused: c.paused });
  return view;
}

/** The differences between a view and the truth, one line each. */
export function differences(view: Truth, truth: Truth): string[] {
  const out: string[] = [];
  for (const [id, t] of truth) {
    const v = view.get(id);
    if (!v) out.push(`missing ${id}`);
    else if (v.paused !== t.paused) {
      out.push(`${id} paused=${v.paused}, engine says ${t.paused}`);
    } else if (v.pid !== t.pid) {
      out.push(`${id} pid=${v.pid}, engine says ${t.pid}`);
    }
  }
  for (const id of view.keys()) if (!truth.has(id)) out.push(`extra ${id}`);
  return out;
}

/**
 * Compares `view()` with `truth()` until they agree or `timeoutMs` passed
 * (events arrive asynchronously); returns the last differences, `[]` when
 * they agreed.
 */
export async function converge(
  view: () => Truth,
  truth: () => Promise<Truth>,
  options: { timeoutMs?: number } = {},
): Promise<string[]> {
  const deadline = performance.now() + (options.timeoutMs ?? 20_000);
  while (true) {
    const diff = differences(view(), await truth());
    if (diff.length === 0 || performance.now() > deadline) return diff;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
