// Crash and restart rounds (issue 9, item 1), a script and a function the
// integration test calls:
//
//   source <rig dir>/env && deno run -A tests/resilience/crash_restart.ts \
//     --engine docker|containerd|cri|all --rounds 10
//
// For each engine: a watcher with fast backoff and one subscriber recording
// every event. Each round, while a background loop keeps starting and
// stopping containers, the engine is killed (SIGKILL and SIGTERM in turn),
// left down a moment and restarted; once the watcher resynced and the churn
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
  ctr,
  docker,
  type Rig,
  rig as rigFromEnv,
  startEngine,
  stopEngine,
  waitFor,
} from "../engines/rig.ts";
import { CriTestClient } from "../engines/cri_client.ts";
import {
  containerdTruth,
  converge,
  criTruth,
  dockerTruth,
  Ledger,
  sleep,
  type Truth,
  viewOf,
} from "./_truth.ts";

/** The engines the rounds run against. */
export type CrashEngine = "docker" | "containerd" | "cri";

/** What {@linkcode crashRestart} measured. */
export interface CrashRestartFigures {
  engine: CrashEngine;
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

function dockerChurner(rig: Rig, run: string): Churner {
  const client = new Docker({ socketPath: rig.dockerSocket });
  const alive: string[] = [];
  const churner: Churner = {
    started: 0,
    async step() {
      if (alive.length < POOL && (alive.length < 2 || Math.random() < 0.5)) {
        const c = await client.createContainer({
          Image: rig.image,
          Labels: { [LABEL]: run },
        });
        try {
          await c.start();
        } catch (err) {
          await c.remove({ force: true }).catch(() => {});
          throw err;
        }
        alive.push(c.id);
        churner.started++;
      } else {
        const id = alive[Math.floor(Math.random() * alive.length)];
        await client.getContainer(id).remove({ force: true });
        alive.splice(alive.indexOf(id), 1);
      }
    },
    // Half-made containers of operations cut by a kill slow dockerd's next
    // start down (it restores each one's sandbox).
    async tidy() {
      const all = await client.listContainers({
        all: true,
        filters: { label: [`${LABEL}=${run}`] },
      } as Docker.ContainerListOptions);
      for (const c of all) {
        if (alive.includes(c.Id)) continue;
        await client.getContainer(c.Id).remove({ force: true }).catch(
          () => {},
        );
      }
    },
    async cleanup() {
      const all = await client.listContainers({
        all: true,
        filters: { label: [`${LABEL}=${run}`] },
      } as Docker.ContainerListOptions);
      for (const c of all) {
        await client.getContainer(c.Id).remove({ force: true }).catch(
          () => {},
        );
      }
    },
  };
  return churner;
}

const CTR_NS = "ww-resilience";

async function containerdChurner(rig: Rig, run: string): Promise<Churner> {
  // Images are per namespace.
  await ctr("-n", CTR_NS, "image", "import", `${rig.dir}/image.tar`);
  const alive: string[] = [];
  let serial = 0;
  const remove = async (id: string) => {
    await ctr("-n", CTR_NS, "task", "rm", "-f", id).catch(() => {});
    await ctr("-n", CTR_NS, "container", "rm", id);
  };
  const churner: Churner = {
    started: 0,
    async step() {
      if (alive.length < POOL && (alive.length < 2 || Math.random() < 0.5)) {
        const id = `${run}-${++serial}`;
        try {
          await ctr("-n", CTR_NS, "run", "-d", rig.ctrImage, id);
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
      const ids = (await ctr("-n", CTR_NS, "containers", "ls", "-q"))
        .split("\n").filter((id) => id.startsWith(`${run}-`));
      for (const id of ids) await remove(id).catch(() => {});
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
  failed = 0;
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
        } catch {
          this.failed++;
          await sleep(100);
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

async function dockerAnswers(): Promise<void> {
  await waitFor(() => docker("ps", "-q").then(() => true, () => false), {
    timeoutMs: 60_000,
    what: "docker ps to answer",
  });
}

/**
 * Runs `rounds` crash-and-restart rounds against one of the rig's engines
 * and returns the figures; throws only when the rig itself fails.
 *
 * @example
 * ```ts
 * import { rig } from "../engines/rig.ts";
 * const figures = await crashRestart("containerd", 2, rig()!);
 * console.log(figures.mismatches, figures.unmatchedStarts); // 0 0
 * ```
 */
export async function crashRestart(
  engine: CrashEngine,
  rounds: number,
  rig: Rig,
  options: { log?: (line: string) => void } = {},
): Promise<CrashRestartFigures> {
  const log = options.log ?? (() => {});
  const t0 = performance.now();
  const run = `crash-${engine}-${crypto.randomUUID().slice(0, 6)}`;
  const backoff = { initialMs: 50, maxMs: 500 };
  // Reconciliation off: the rounds must prove that resyncs alone suffice.
  const watcherOptions = { backoff, reconcileIntervalMs: 0 };
  let watcher: Watcher;
  let truth: () => Promise<Truth>;
  let cri: CriTestClient | undefined;
  let churner: Churner;
  const daemon = engine === "docker" ? "dockerd" : "containerd";
  if (engine === "docker") {
    watcher = watchDocker(rig.dockerSocket, watcherOptions);
    truth = dockerTruth;
    churner = dockerChurner(rig, run);
  } else if (engine === "containerd") {
    watcher = watchContainerd(rig.containerdSocket, watcherOptions);
    truth = () => containerdTruth();
    churner = await containerdChurner(rig, run);
  } else {
    cri = new CriTestClient(rig.containerdSocket, {
      image: rig.ctrImage,
      logDir: `${rig.dir}/cri-logs`,
    });
    const client = cri;
    watcher = watchCri(rig.containerdSocket, watcherOptions);
    truth = () => criTruth(client);
    churner = await criChurner(cri, run);
  }
  const ledger = new Ledger(watcher);
  const loop = new ChurnLoop(churner);
  const ac = new AbortController();
  const watching = watcher.watch(ac.signal);
  const details: string[] = [];
  let mismatches = 0;
  try {
    await watcher.ready;
    for (let round = 1; round <= rounds; round++) {
      const signal = round % 2 === 1 ? "SIGKILL" : "SIGTERM";
      loop.resume();
      await sleep(700);
      const syncs = watcher.syncCount;
      const phases: string[] = [];
      let t = performance.now();
      const phase = (name: string) => {
        const now = performance.now();
        phases.push(`${name} ${Math.round(now - t)} ms`);
        t = now;
      };
      await stopEngine(daemon, { signal });
      phase("stop");
      await sleep(300);
      t = performance.now();
      await startEngine(daemon);
      if (daemon === "containerd") await dockerAnswers();
      phase("start");
      await sleep(700);
      t = performance.now();
      await loop.quiesce();
      phase("quiesce");
      await waitFor(() => watcher.syncCount > syncs, {
        timeoutMs: 30_000,
        what: `the ${engine} watcher to resync after round ${round}`,
      });
      phase("resync");
      const diff = await converge(() => viewOf(watcher.portfolio), truth);
      if (diff.length > 0) {
        mismatches++;
        details.push(`round ${round}: ${diff.join(", ")}`);
      }
      await churner.tidy?.().catch(() => {});
      log(
        `${engine} round ${round} (${signal}): ${churner.started} churned, ${
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
      engine,
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
    // Leave the rig as found: both engines up, nothing of ours running.
    await startEngine(daemon);
    await dockerAnswers();
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
  const r = rigFromEnv();
  if (!r) throw new Error("the rig is not up: source <rig dir>/env first");
  const engines: CrashEngine[] = values.engine === "all"
    ? ["docker", "containerd", "cri"]
    : [values.engine as CrashEngine];
  for (const e of engines) {
    if (!["docker", "containerd", "cri"].includes(e)) {
      throw new Error(`unknown engine "${e}": docker, containerd, cri or all`);
    }
  }
  let failed = false;
  for (const engine of engines) {
    const f = await crashRestart(engine, Number(values.rounds), r, {
      log: (line) => console.log(line),
    });
    console.log(
      `${engine}: rounds ${f.rounds}, containers churned ${f.churned}, mismatches ${f.mismatches}, unmatched starts ${f.unmatchedStarts}, sequence errors ${f.inconsistent}, syncs ${f.syncs}, events ${f.events}, failed churn ops ${f.failedOps}, ${f.seconds} s`,
    );
    for (const d of f.details) console.log(`  ${d}`);
    if (f.mismatches || f.unmatchedStarts || f.inconsistent) failed = true;
  }
  if (failed) Deno.exit(1);
}

if (import.meta.main) await main();
