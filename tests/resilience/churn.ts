// Churn (issue 9, item 3), a script and a function the integration test
// calls:
//
//   source <rig dir>/env && deno run -A --v8-flags=--expose-gc \
//     tests/resilience/churn.ts --seconds 60 --containers 200
//
// Against Docker: up to `containers` containers started and stopped as fast
// as the rig allows (bounded concurrency, dockerode in this process) for
// `seconds`, with two subscribers. The fast one must see a `started` for
// every container started and an `exited` for every one stopped; the slow
// one (small queue; each subscription first reads nothing until more
// events came than its queue holds, then reads with a delay while the
// churn runs) must overflow and recover by re-subscribing (its view = the
// portfolio + later events), ending equal to the portfolio. The portfolio must equal the truth
// at the end, and the process's memory after the churn (everything removed,
// after gc) be within 10% of its level before (after a warm-up).
import { parseArgs } from "node:util";
import Docker from "dockerode";
import { watchDocker } from "../../docker.ts";
import { SubscriberOverflowError } from "../../watcher/mod.ts";
import type { Watcher } from "../../watcher/mod.ts";
import {
  type EngineInstance,
  primary,
  rig as rigFromEnv,
  sleep,
  uniq,
  waitFor,
} from "../engines/rig.ts";
import { DockerCli, startLabelled } from "../engines/docker.ts";
import { converge, type Truth, viewOf } from "../engines/truth.ts";
import { EventRecorder } from "../integration/_recorder.ts";

/** Options of {@linkcode churn}. */
export interface ChurnOptions {
  /** How long the churn runs; default 60. */
  seconds?: number;
  /** Containers alive at most (slots); default 200. */
  containers?: number;
  /** Docker operations in flight at once; default 8. */
  concurrency?: number;
  /** Queue bound of the slow subscriber; default 100. */
  slowQueueSize?: number;
  /** The slow subscriber's delay per event while the churn runs; default 250. */
  slowDelayMs?: number;
  /** Least lifetime of a container before it is stopped; default 1000. */
  minLifeMs?: number;
  /**
   * Containers to start at least: the churn goes on past `seconds` until
   * then (a loaded machine churns slowly); default 0.
   */
  minStarted?: number;
  log?: (line: string) => void;
}

/** What {@linkcode churn} measured. */
export interface ChurnFigures {
  seconds: number;
  /** Containers started / stopped by the churn. */
  started: number;
  stopped: number;
  /** Docker operations that failed. */
  failedOps: number;
  /** Events the fast subscriber got. */
  fastEvents: number;
  /** Starts and stops made that the fast subscriber did not see. */
  lost: number;
  /** Whether the fast subscriber's subscription failed. */
  fastFailed: boolean;
  /** Times the slow subscriber overflowed, and re-subscribed. */
  overflows: number;
  recoveries: number;
  /** Whether the slow subscriber's view ended equal to the portfolio. */
  slowViewRight: boolean;
  /** Differences between the portfolio and the truth at the end. */
  mismatches: number;
  /** Memory before (after warm-up) and after the churn, bytes. */
  rssBefore: number;
  rssAfter: number;
  heapBefore: number;
  heapAfter: number;
  /** Whether gc() was available (`--v8-flags=--expose-gc`). */
  gc: boolean;
  details: string[];
}

const LABEL = "ww.resilience";

// What the churn did to a container and what the fast subscriber saw,
// dropped once complete so that memory stays flat.
const RAN = 1, STOPPED = 2, SAW_START = 4, SAW_EXIT = 8;
const COMPLETE = RAN | STOPPED | SAW_START | SAW_EXIT;

class Ledger {
  readonly #flags = new Map<string, number>();
  mark(id: string, flag: number): void {
    const f = (this.#flags.get(id) ?? 0) | flag;
    if (f === COMPLETE) this.#flags.delete(id);
    else this.#flags.set(id, f);
  }
  /** Operations not (yet) seen by the subscriber. */
  missing(): string[] {
    const out: string[] = [];
    for (const [id, f] of this.#flags) {
      if (f & RAN && !(f & SAW_START)) out.push(`start of ${id}`);
      if (f & STOPPED && !(f & SAW_EXIT)) out.push(`stop of ${id}`);
    }
    return out;
  }
}

function memory(): { rss: number; heap: number; gc: boolean } {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const m = Deno.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, gc: gc !== undefined };
}

// The slow subscriber: keeps a view (portfolio at subscription + events),
// re-subscribing after each overflow.
function slowSubscriber(
  watcher: Watcher,
  signal: AbortSignal,
  options: { queueSize: number; delay: { ms: number }; seen: () => number },
) {
  const { queueSize, delay, seen } = options;
  const state = { view: new Map() as Truth, overflows: 0, recoveries: 0 };
  const done = (async () => {
    while (!signal.aborted) {
      const sub = watcher.events({ signal, queueSize });
      state.view = viewOf(watcher.portfolio); // same tick: nothing missed
      // Reads nothing until more events arrived (the fast subscriber's
      // count) than the queue holds, or the churn is over: it overflows
      // however fast or slowly the machine churns.
      const since = seen();
      await waitFor(
        () => seen() - since > queueSize || delay.ms === 0 || signal.aborted,
        { timeoutMs: 600_000, what: "the slow subscriber's queue to fill" },
      );
      try {
        for await (const e of sub) {
          if (e.type === "exited") state.view.delete(e.id);
          else {
            state.view.set(e.id, {
              pid: e.container.pid,
              paused: e.container.paused,
            });
          }
          if (delay.ms > 0) await sleep(delay.ms);
        }
        return;
      } catch (err) {
        if (!(err instanceof SubscriberOverflowError)) throw err;
        state.overflows++;
      }
      state.recoveries++;
    }
  })();
  return { state, done };
}

/**
 * Runs the churn against the rig's dockerd and returns the figures.
 *
 * @example
 * ```ts
 * import { primary } from "../engines/rig.ts";
 * const figures = await churn(primary("docker"), { seconds: 10, containers: 40 });
 * console.log(figures.lost, figures.overflows > 0); // 0 true
 * ```
 */
export async function churn(
  engine: EngineInstance,
  options: ChurnOptions = {},
): Promise<ChurnFigures> {
  const seconds = options.seconds ?? 60;
  const slots = options.containers ?? 200;
  const concurrency = options.concurrency ?? 8;
  const minLifeMs = options.minLifeMs ?? 1000;
  const log = options.log ?? (() => {});
  const run = uniq("churn");
  const client = new Docker({ socketPath: engine.socket });
  const cli = DockerCli.of(engine);
  const dockerTruth = () => cli.truth();
  const watcher = watchDocker(engine.socket, {
    backoff: { initialMs: 50, maxMs: 500 },
  });
  const ledger = new Ledger();
  const ac = new AbortController();
  // The fast subscriber keeps no events: memory stays flat.
  const fast = new EventRecorder(watcher, {
    keep: false,
    onEvent(e) {
      if (e.type === "started") ledger.mark(e.id, SAW_START);
      else if (e.type === "exited") ledger.mark(e.id, SAW_EXIT);
    },
  });
  const watching = watcher.watch(ac.signal);
  const figures = { started: 0, stopped: 0, failedOps: 0 };

  const start = async () => {
    const id = await startLabelled(client, { [LABEL]: run });
    ledger.mark(id, RAN);
    figures.started++;
    return id;
  };
  const stop = async (id: string) => {
    await client.getContainer(id).remove({ force: true });
    ledger.mark(id, STOPPED);
    figures.stopped++;
  };
  // Runs `op` on many items with bounded concurrency.
  const each = async <T>(items: T[], op: (item: T) => Promise<void>) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < items.length) {
          await op(items[next++]).catch(() => figures.failedOps++);
        }
      }),
    );
  };

  const delay = { ms: options.slowDelayMs ?? 250 };
  let slow: ReturnType<typeof slowSubscriber> | undefined;
  const details: string[] = [];
  try {
    await watcher.ready;
    // Starts and stops containers in `slots` for `ms`; a container lives at
    // least `minLifeMs` (one gone before the watcher could inspect it is
    // never reported, by design). Returns what is still alive.
    let t0 = performance.now();
    let lastLog = t0;
    const churnFor = async (ms: number, least = 0): Promise<string[]> => {
      const deadline = performance.now() + ms;
      const slot: ({ id: string; since: number } | undefined)[] = new Array(
        slots,
      ).fill(undefined);
      const busy = new Set<number>();
      const pick = (): number | undefined => {
        const now = performance.now();
        const first = Math.floor(Math.random() * slots);
        for (let k = 0; k < slots; k++) {
          const i = (first + k) % slots;
          const s = slot[i];
          if (!busy.has(i) && (!s || now - s.since >= minLifeMs)) return i;
        }
        return undefined;
      };
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (performance.now() < deadline || figures.started < least) {
            const i = pick();
            if (i === undefined) {
              await sleep(20);
              continue;
            }
            busy.add(i);
            try {
              const s = slot[i];
              if (s === undefined) {
                slot[i] = { id: await start(), since: performance.now() };
              } else {
                await stop(s.id);
                slot[i] = undefined;
              }
            } catch {
              figures.failedOps++;
            } finally {
              busy.delete(i);
            }
            if (performance.now() - lastLog > 10_000) {
              lastLog = performance.now();
              log(
                `${
                  Math.round((lastLog - t0) / 1000)
                } s: ${figures.started} started, ${figures.stopped} stopped, ${watcher.portfolio.size} alive, slow overflows ${
                  slow?.state.overflows ?? 0
                }`,
              );
            }
          }
        }),
      );
      return slot.flatMap((s) => s ? [s.id] : []);
    };

    // Warm-up: the same work for a while, everything stopped, then the
    // baseline.
    const warmMs = Math.max(3000, seconds * 1000 / 6);
    await each(await churnFor(warmMs), stop);
    await converge(() => viewOf(watcher.portfolio), dockerTruth);
    const before = memory();
    log(
      `after ${warmMs / 1000} s of warm-up (${figures.started} started): rss ${
        mb(before.rss)
      }, heap ${mb(before.heap)}${
        before.gc ? "" : " (no gc(): run with --v8-flags=--expose-gc)"
      }`,
    );
    figures.started = figures.stopped = 0;

    slow = slowSubscriber(watcher, ac.signal, {
      queueSize: options.slowQueueSize ?? 100,
      delay,
      seen: () => fast.count,
    });
    t0 = lastLog = performance.now();
    const alive = await churnFor(seconds * 1000, options.minStarted ?? 0);
    const churnSeconds = (performance.now() - t0) / 1000;
    // The portfolio right after the churn, with containers still alive.
    const diffAlive = await converge(
      () => viewOf(watcher.portfolio),
      dockerTruth,
    );
    if (diffAlive.length) details.push(`after churn: ${diffAlive.join(", ")}`);
    // Stop the rest, and everything a failed operation may have left.
    await each(alive, stop);
    const leftovers = await client.listContainers({
      all: true,
      filters: { label: [`${LABEL}=${run}`] },
    } as Docker.ContainerListOptions);
    await each(leftovers.map((c: Docker.ContainerInfo) => c.Id), stop);
    delay.ms = 0; // the slow one catches up now
    const diffEnd = await converge(
      () => viewOf(watcher.portfolio),
      dockerTruth,
    );
    if (diffEnd.length) details.push(`at the end: ${diffEnd.join(", ")}`);
    // The fast subscriber's events arrive asynchronously too.
    await waitFor(() => ledger.missing().length === 0, {
      what: "the fast subscriber to see every start and stop",
    }).catch(() => {}); // what is missing then is reported below
    const missing = ledger.missing();
    if (missing.length) details.push(`lost: ${missing.join(", ")}`);
    const slowDiff = await converge(
      () => slow!.state.view,
      () => Promise.resolve(viewOf(watcher.portfolio)),
    );
    if (slowDiff.length) details.push(`slow view: ${slowDiff.join(", ")}`);
    if (fast.error) details.push(`fast subscriber failed: ${fast.error}`);
    const after = memory();
    return {
      seconds: Math.round(churnSeconds * 10) / 10,
      ...figures,
      fastEvents: fast.count,
      lost: missing.length,
      fastFailed: fast.error !== undefined,
      overflows: slow.state.overflows,
      recoveries: slow.state.recoveries,
      slowViewRight: slowDiff.length === 0,
      mismatches: diffAlive.length + diffEnd.length,
      rssBefore: before.rss,
      rssAfter: after.rss,
      heapBefore: before.heap,
      heapAfter: after.heap,
      gc: before.gc,
      details,
    };
  } finally {
    delay.ms = 0;
    const leftovers = await client.listContainers({
      all: true,
      filters: { label: [`${LABEL}=${run}`] },
    } as Docker.ContainerListOptions).catch(() => []);
    for (const c of leftovers) {
      await client.getContainer(c.Id).remove({ force: true }).catch(() => {});
    }
    ac.abort();
    await watching.catch(() => {});
    await fast.stop();
    await slow?.done.catch(() => {});
    await watcher.close();
  }
}

function mb(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

function pct(after: number, before: number): string {
  const p = ((after - before) / before) * 100;
  return `${p >= 0 ? "+" : ""}${p.toFixed(1)}%`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "60" },
      containers: { type: "string", default: "200" },
      concurrency: { type: "string", default: "8" },
    },
  });
  if (!rigFromEnv()) {
    throw new Error("the rig is not up: source <rig dir>/env first");
  }
  const f = await churn(primary("docker"), {
    seconds: Number(values.seconds),
    containers: Number(values.containers),
    concurrency: Number(values.concurrency),
    log: (line) => console.log(line),
  });
  console.log(
    `churn: ${f.seconds} s, ${f.started} started, ${f.stopped} stopped (${
      Math.round((f.started + f.stopped) / f.seconds)
    } ops/s), failed ops ${f.failedOps}, fast events ${f.fastEvents}, lost ${f.lost}, slow overflows ${f.overflows} / recoveries ${f.recoveries}, slow view right ${f.slowViewRight}, portfolio mismatches ${f.mismatches}`,
  );
  console.log(
    `memory: rss ${mb(f.rssBefore)} → ${mb(f.rssAfter)} (${
      pct(f.rssAfter, f.rssBefore)
    }), heap ${mb(f.heapBefore)} → ${mb(f.heapAfter)} (${
      pct(f.heapAfter, f.heapBefore)
    })${f.gc ? "" : " (no gc(): run with --v8-flags=--expose-gc)"}`,
  );
  for (const d of f.details) console.log(`  ${d}`);
  const within = (after: number, before: number) => after <= before * 1.1;
  if (
    f.lost || f.fastFailed || f.mismatches || !f.slowViewRight ||
    f.overflows === 0 || f.recoveries === 0 ||
    !within(f.rssAfter, f.rssBefore) || !within(f.heapAfter, f.heapBefore)
  ) Deno.exit(1);
}

if (import.meta.main) await main();
