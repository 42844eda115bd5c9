// Helpers of the resilience scripts: each engine's truth (alive containers,
// read with the engines' own tools), comparing it with a watcher's
// portfolio, and a ledger of what one subscriber saw.
import type { Portfolio, Watcher, WatcherEvent } from "../../watcher/mod.ts";
import { ctr, docker } from "../engines/rig.ts";
import type { CriTestClient } from "../engines/cri_client.ts";

/** Alive containers: ID (as the watcher shows it) → paused. */
export type Truth = Map<string, boolean>;

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Docker's truth: running and paused containers (`docker ps`). */
export async function dockerTruth(): Promise<Truth> {
  const out = await docker(
    "ps",
    "--no-trunc",
    "--filter",
    "status=running",
    "--filter",
    "status=paused",
    "--format",
    "{{.ID}} {{.State}}",
  );
  const truth: Truth = new Map();
  for (const line of out.split("\n").filter(Boolean)) {
    const [id, state] = line.split(" ");
    truth.set(id, state === "paused");
  }
  return truth;
}

/**
 * containerd's truth: RUNNING and PAUSED tasks (`ctr tasks ls`) of every
 * namespace but the ignored ones, with the adaptor's display IDs (bare in
 * `default`, `namespace/id` elsewhere).
 */
export async function containerdTruth(
  ignored: readonly string[] = ["moby", "k8s.io"],
): Promise<Truth> {
  const truth: Truth = new Map();
  const namespaces = (await ctr("namespaces", "ls", "-q")).split("\n")
    .filter((ns) => ns && !ignored.includes(ns));
  for (const ns of namespaces) {
    const out = await ctr("-n", ns, "tasks", "ls");
    for (const line of out.split("\n").slice(1)) {
      const [id, , status] = line.trim().split(/\s+/);
      if (!id || (status !== "RUNNING" && status !== "PAUSED")) continue;
      truth.set(ns === "default" ? id : `${ns}/${id}`, status === "PAUSED");
    }
  }
  return truth;
}

/** CRI's truth: running containers and ready sandboxes (never paused). */
export async function criTruth(cri: CriTestClient): Promise<Truth> {
  const truth: Truth = new Map();
  for (const id of await cri.alive()) truth.set(id, false);
  return truth;
}

/** A portfolio as a {@linkcode Truth}. */
export function viewOf(portfolio: Portfolio): Truth {
  const view: Truth = new Map();
  for (const c of portfolio) view.set(c.id, c.paused);
  return view;
}

/** The differences between a view and the truth, one line each. */
export function differences(view: Truth, truth: Truth): string[] {
  const out: string[] = [];
  for (const [id, paused] of truth) {
    if (!view.has(id)) out.push(`missing ${id}`);
    else if (view.get(id) !== paused) {
      out.push(`${id} paused=${view.get(id)}, engine says ${paused}`);
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
  const deadline = performance.now() + (options.timeoutMs ?? 10_000);
  while (true) {
    const diff = differences(view(), await truth());
    if (diff.length === 0 || performance.now() > deadline) return diff;
    await sleep(200);
  }
}

/**
 * What one subscriber saw, per container: the last lifecycle state and
 * sequence errors (a `started` for an alive container, an `exited` for one
 * not alive). Subscribes at construction, before the watch starts, so it
 * also sees the synthetic starts of the first list.
 */
export class Ledger {
  /** ID → alive after the last event seen. */
  readonly alive: Map<string, boolean> = new Map();
  /** Events seen. */
  events = 0;
  /** Sequence errors, as text. */
  readonly inconsistent: string[] = [];
  /** How the subscription ended abnormally, if it did. */
  error: unknown;
  #abort = new AbortController();
  #done: Promise<void>;

  constructor(watcher: Watcher, options: { queueSize?: number } = {}) {
    const sub = watcher.events({
      signal: this.#abort.signal,
      queueSize: options.queueSize ?? 1_000_000,
    });
    this.#done = (async () => {
      try {
        for await (const e of sub) this.#see(e);
      } catch (err) {
        this.error = err;
      }
    })();
  }

  #see(e: WatcherEvent): void {
    this.events++;
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
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#done;
  }
}
