// Crash and restart rounds (issue 9, item 1), a script and a function the
// integration test calls:
//
//   source <rig dir>/env && deno run -A tests/resilience/crash_restart.ts \
//     --engine docker|containerd|cri|all --rounds 10
//
// For each engine: a watcher with fast backoff and one subscriber recording
// every event. Each round, while a background loop keeps starting and
// stopping containers, the engine is killed (SIGKILL and SIGTERM in turn),
// left down until the watcher noticed, and restarted; once the
// watcher resynced and the churn
// quiesced, its portfolio must equal the engine's truth. Over the run, every
// `started` the subscriber saw must be followed by an `exited`, or the
// container must be alive at the end.
import { parseArgs } from "node:util";
import Docker from "dockerode";
import { watchDocker } from "../../docker.ts";
import { watchContainerd } from "../../containerd.ts";
import { watchCri } from "../../cri.ts";
import type { Watcher } from "../../watcher/mod.ts";
import {
  type EngineInstance,
  engines,
  primary,
  rig as rigFromEnv,
  sleep,
  startEngine,
  stopEngine,
  uniq,
  waitFor,
} from "../engines/rig.ts";
import { Ctr } from "../engines/containerd.ts";
import { CriTestClient } from "../engines/cri_client.ts";
import { DockerCli, startLabelled } from "../engines/docker.ts";
import { converge, type Truth, viewOf } from "../engines/truth.ts";
import { Ledger } from "./_ledger.ts";

/** The engines the rounds run against. */
export type CrashEngine = "docker" | "containerd" | "cri";

/** What {@linkcode crashRestart} measured. */
export interface CrashRestartFigures {
  /** The engine instance's label, e.g. `docker 20.10.24`. */
  engine: string;
  rounds: number;
  /** Containers the churn loop started. */
  churned: number;
  /** Rounds whose portfolio did not converge to the truth. */
  mismatches: number;
  /** Starts the subscriber saw never followed by an exit, for containers not alive at the end. */
  unmatchedStarts: number;
  /** Subscriber sequence errors (started twice, exit of a dead one). */
  inconsistent: number;
  /** Lists merged by the watcher (initial one, resyncs). */
  syncs: number;
  /** Events the subscriber saw. */
  events: number;
  /** Churn operations that failed (the engine was down). */
  failedOps: number;
  seconds: number;
  /** The differences found, for the report. */
  details: string[];
}

// Starts and stops containers in the background, one operation at a time.
interface Churner {
  /** One operation: start a container, or stop one. */
  step(): Promise<void>;
  /** Removes everything it made. */
  cleanup(): Promise<void>;
  /** Removes what failed operations left behind (not alive). */
  tidy?(): Promise<void>;
  started: number;
}

const LABEL = "ww.resilience";
const POOL = 4; // containers alive at most per churner

function dockerChurner(engine: EngineInstance, run: string): Churner {
  const client = new Docker({ socketPath: engine.socket });
  const alive: string[] = [];
  // Removes the run's containers but those in `keep`.
  const removeLabelled = async (keep: string[]) => {
    const all = await client.listContainers({
      all: true,
      filters: { label: [`${LABEL}=${run}`] },
    } as Docker.ContainerListOptions);
    for (const c of all) {
      if (keep.includes(c.Id)) continue;
      await client.getContainer(c.Id).remove({ force: true }).catch(() => {});
    }
  };
  const churner: Churner = {
    started: 0,
    async step() {
      if (alive.length < POOL && (alive.length < 2 || Math.random() < 0.5)) {
        alive.push(await startLabelled(client, { [LABEL]: run }));
        churner.started++;
      } else {
        const id = alive[Math.floor(Math.random() * alive.length)];
        await client.getContainer(id).remove({ force: true });
        alive.splice(alive.indexOf(id), 1);
      }
    },
    // Half-made containers of operations cut by a kill slow dockerd's next
    // start down (it restores each one's sandbox).
    tidy: () => removeLabelled(alive),
    cleanup: () => removeLabelled([]),
  };
  return churner;
}

async function containerdChurner(
  engine: EngineInstance,
  run: string,
): Promise<Churner> {
  const ctr = new Ctr(engine);
  const ns = await ctr.namespace("resilience");
  const alive: string[] = [];
  let serial = 0;
  const remove = async (id: string) => {
    await ctr.ctr("-n", ns, "task", "rm", "-f", id).catch(() => {});
    await ctr.ctr("-n", ns, "container", "rm", id);
  };
  const churner: Churner = {
    started: 0,
    async step() {
      if (alive.length < POOL && (alive.length < 2 || Math.random() < 0.5)) {
        const id = `${run}-${++serial}`;
        try {
          await ctr.run(ns, id);
        } catch (err) {
          // The container may exist without (or with) a task: clean up.
          await remove(id).catch(() => {});
          throw err;
        }
        alive.push(id);
        churner.started++;
      } else {
        const id = alive[Math.floor(Math.random() * alive.length)];
        await remove(id);
        alive.splice(alive.indexOf(id), 1);
      }
    },
    async cleanup() {
      const ids = (await ctr.ctr("-n", ns, "containers", "ls", "-q"))
        .split("\n").filter((id) => id.startsWith(`${run}-`));
      for (const id of ids) await ctr.remove(ns, id).catch(() => {});
    },
  };
  return churner;
}

async function criChurner(
  cri: CriTestClient,
  run: string,
): Promise<Churner> {
  const pod = await cri.runPod(`${run}-pod`, { namespace: "ww-resilience" });
  const alive: string[] = [];
  let serial = 0;
  const churner: Churner = {
    started: 0,
    async step() {
      if (alive.length < POOL && (alive.length < 2 || Math.random() < 0.5)) {
        const id = await cri.createContainer(pod, `c${++serial}`);
        try {
          await cri.startContainer(id);
        } catch (err) {
          await cri.removeContainer(id).catch(() => {});
          throw err;
        }
        alive.push(id);
        churner.started++;
      } else {
        const id = alive[Math.floor(Math.random() * alive.length)];
        await cri.stopContainer(id);
        await cri.removeContainer(id);
        alive.splice(alive.indexOf(id), 1);
      }
    },
    async cleanup() {
      await cri.removePod(pod).catch(() => {});
    },
  };
  return churner;
}

// Runs a churner's steps in the background until quiesced.
class ChurnLoop {
  /** Steps that failed (the engine was down), and that succeeded. */
  failed = 0;
  done = 0;
  #running: Promise<void> | undefined;
  #stop = false;
  constructor(readonly churner: Churner) {}

  resume(): void {
    if (this.#running) return;
    this.#stop = false;
    this.#running = (async () => {
      while (!this.#stop) {
        try {
          await this.churner.step();
          this.done++;
        } catch {
          this.failed++;
          await sleep(100); // the engine is down: a slower rhythm
        }
      }
    })();
  }

  /** Stops after the operation in flight. */
  async quiesce(): Promise<void> {
    this.#stop = true;
    await this.#running;
    this.#running = undefined;
  }
}

// Waits until the dockerds on a containerd answer again after its restart.
async function dockerAnswers(containerd: EngineInstance): Promise<void> {
  for (const d of engines("docker")) {
    if (d.containerd !== containerd.daemon) continue;
    const cli = DockerCli.of(d);
    await waitFor(() => cli.docker("ps", "-q").then(() => true, () => false), {
      timeoutMs: 60_000,
      what: `${d.label} to answer`,
    });
  }
}

/**
 * Runs `rounds` crash-and-restart rounds against one of the rig's engine
 * instances (docker, containerd or CRI) and returns the figures; throws
 * only when the rig itself fails.
 *
 * @example
 * ```ts
 * import { primary } from "../engines/rig.ts";
 * const figures = await crashRestart(primary("containerd"), 2);
 * console.log(figures.mismatches, figures.unmatchedStarts); // 0 0
 * ```
 */
export async function crashRestart(
  engine: EngineInstance,
  rounds: number,
  options: { log?: (line: string) => void } = {},
): Promise<CrashRestartFigures> {
  const log = options.log ?? (() => {});
  const t0 = performance.now();
  const run = uniq(`crash-${engine.kind}`);
  const backoff = { initialMs: 50, maxMs: 500 };
  // Reconciliation off: the rounds must prove that resyncs alone suffice.
  const watcherOptions = { backoff, reconcileIntervalMs: 0 };
  let watcher: Watcher;
  let truth: () => Promise<Truth>;
  let cri: CriTestClient | undefined;
  let churner: Churner;
  // The containerd below a dockerd keeps its containers while it is down;
  // a containerd's restart takes its dockerds' streams too.
  const containerd = engine.kind === "docker"
    ? undefined
    : engines("containerd").find((c) => c.daemon === engine.daemon);
  if (engine.kind === "docker") {
    const cli = DockerCli.of(engine);
    watcher = watchDocker(engine.socket, watcherOptions);
    truth = () => cli.truth();
    churner = dockerChurner(engine, run);
  } else if (engine.kind === "containerd") {
    const ctr = new Ctr(engine);
    watcher = watchContainerd(engine.socket, watcherOptions);
    truth = () => ctr.truth();
    churner = await containerdChurner(engine, run);
  } else if (engine.kind === "cri") {
    const client = cri = CriTestClient.of(engine);
    watcher = watchCri(engine.socket, watcherOptions);
    truth = () => client.truth();
    churner = await criChurner(client, run);
  } else {
    throw new Error(`no crash rounds for ${engine.label}`);
  }
  const ledger = new Ledger(watcher);
  const loop = new ChurnLoop(churner);
  const ac = new AbortController();
  const watching = watcher.watch(ac.signal);
  const details: string[] = [];
  let mismatches = 0;
  const churnOps = (n: number, what: string) =>
    waitFor(() => loop.done >= n, {
      timeoutMs: 60_000,
      what: () => `${what} (${loop.done} of ${n} churn operations done)`,
    });
  try {
    await watcher.ready;
    for (let round = 1; round <= rounds; round++) {
      const signal = round % 2 === 1 ? "SIGKILL" : "SIGTERM";
      const phases: string[] = [];
      let t = performance.now();
      const phase = (name: string) => {
        const now = performance.now();
        phases.push(`${name} ${Math.round(now - t)} ms`);
        t = now;
      };
      loop.resume();
      // Churn running before the crash, failing while the engine is down,
      // running again after: conditions, not durations.
      await churnOps(loop.done + 2, `churn before round ${round}'s crash`);
      phase("churn");
      const syncs = watcher.syncCount;
      const lost = watcher.lastError;
      await stopEngine(engine, { signal });
      phase("stop");
      // Down until the watcher noticed (a new failure of its session).
      await waitFor(() => watcher.lastError !== lost, {
        timeoutMs: 60_000,
        what: `the ${engine.label} watcher to notice the engine is down`,
      });
      phase("down");
      await startEngine(engine);
      if (containerd) await dockerAnswers(containerd);
      phase("start");
      await churnOps(loop.done + 2, `churn after round ${round}'s restart`);
      phase("churn");
      await loop.quiesce();
      phase("quiesce");
      await waitFor(() => watcher.syncCount > syncs, {
        timeoutMs: 30_000,
        what: `the ${engine.label} watcher to resync after round ${round}`,
      });
      phase("resync");
      const diff = await converge(
        () => viewOf(watcher.portfolio.containers()),
        truth,
      );
      if (diff.length > 0) {
        mismatches++;
        details.push(`round ${round}: ${diff.join(", ")}`);
      }
      await churner.tidy?.().catch(() => {});
      log(
        `${engine.label} round ${round} (${signal}): ${churner.started} churned, ${
          diff.length === 0 ? "portfolio = truth" : diff.join(", ")
        } (${phases.join(", ")})`,
      );
    }
    await loop.quiesce();
    const final = await truth();
    const unmatched = ledger.unmatched(final);
    if (unmatched.length > 0) {
      details.push(`unmatched starts: ${unmatched.join(", ")}`);
    }
    if (ledger.error) details.push(`subscriber failed: ${ledger.error}`);
    details.push(...ledger.inconsistent);
    return {
      engine: engine.label,
      rounds,
      churned: churner.started,
      mismatches,
      unmatchedStarts: unmatched.length,
      inconsistent: ledger.inconsistent.length,
      syncs: watcher.syncCount,
      events: ledger.events,
      failedOps: loop.failed,
      seconds: Math.round((performance.now() - t0) / 100) / 10,
      details,
    };
  } finally {
    await loop.quiesce();
    // Leave the rig as found: its engines up, nothing of ours running.
    await startEngine(engine);
    if (containerd) await dockerAnswers(containerd);
    await churner.cleanup().catch(() => {});
    ac.abort();
    await watching.catch(() => {});
    await ledger.stop();
    await watcher.close();
    await cri?.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      engine: { type: "string", default: "all" },
      rounds: { type: "string", default: "10" },
    },
  });
  if (!rigFromEnv()) {
    throw new Error("the rig is not up: source <rig dir>/env first");
  }
  const kinds: CrashEngine[] = values.engine === "all"
    ? ["docker", "containerd", "cri"]
    : [values.engine as CrashEngine];
  for (const e of kinds) {
    if (!["docker", "containerd", "cri"].includes(e)) {
      throw new Error(`unknown engine "${e}": docker, containerd, cri or all`);
    }
  }
  let failed = false;
  for (const kind of kinds) {
    const f = await crashRestart(primary(kind), Number(values.rounds), {
      log: (line) => console.log(line),
    });
    console.log(
      `${f.engine}: rounds ${f.rounds}, containers churned ${f.churned}, mismatches ${f.mismatches}, unmatched starts ${f.unmatchedStarts}, sequence errors ${f.inconsistent}, syncs ${f.syncs}, events ${f.events}, failed churn ops ${f.failedOps}, ${f.seconds} s`,
    );
    for (const d of f.details) console.log(`  ${d}`);
    if (f.mismatches || f.unmatchedStarts || f.inconsistent) failed = true;
  }
  if (failed) Deno.exit(1);
}

if (import.meta.main) await main();
