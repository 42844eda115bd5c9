// Bursts (a script that prints figures): N (default 300) containers started
// at once, as fast as the engine allows, then stopped at once, on each of
// the rig's engines — Docker, containerd native (tasks by `ctr run -d`) and
// CRI (containers of 30 pods) — while a watcher with default settings runs
// in this process; a child process drives the burst.
//
// Figures per engine and phase: the floor (burst begin → the last start,
// or exit, of the N on the raw event stream: the watcher's own
// subscription, tapped where the adaptor hands the decoded events over),
// the watcher (burst begin → its portfolio holds all N, or none of them, as
// a subscriber sees it), the ratio watcher / floor (target ≤ 1.2) and the
// tail watcher − floor (target ≤ 50 ms): what the watcher adds (inspecting
// each start, merging, delivering). An independent raw subscription is
// timed too (Docker: a second /events stream; containerd and CRI:
// containerd's native task events). Each of two subscribers must get
// exactly one `started` and one `exited` per container (nothing lost,
// nothing duplicated). On two cores the engine is the bottleneck.
//
//   source <rig dir>/env
//   deno run -A tests/bench/burst_bench.ts [--engine docker|containerd|cri]
//     [--containers 300] [--rounds 3] [--daemon NAME]
//
// --daemon picks the rig's daemon serving the engine (`sid-dockerd`,
// `sid-ctrd`: today's engines); default: the first of each kind.
import { parseArgs } from "node:util";
import type { ContainerEvent, EngineClient } from "../../engineclient/mod.ts";
import { DockerClient } from "../../docker.ts";
import { ContainerdClient } from "../../containerd.ts";
import { CriClient } from "../../cri.ts";
import { Watcher, type WatcherEvent } from "../../watcher/mod.ts";
import { mapPool } from "../../engineclient/_async.ts";
import { Ctr } from "../engines/containerd.ts";
import { CriTestClient } from "../engines/cri_client.ts";
import {
  type EngineInstance,
  type EngineKind,
  primary,
  type Rig,
  rig,
  served,
} from "../engines/rig.ts";
import { DockerFleet } from "./_docker_fleet.ts";
import {
  JsonChild,
  median,
  percentile,
  printLoadAverage,
  within,
} from "./_scale.ts";

// The daemon given with --daemon, if any.
let daemon: string | undefined;

function target(kind: EngineKind): EngineInstance {
  return daemon ? served(kind, daemon) : primary(kind);
}

const DRIVER = new URL("./_burst_driver.ts", import.meta.url).pathname;
const PODS = 30;

/** One engine's burst: how to prepare, drive and clean up N containers. */
interface Setup {
  /** IDs of the N containers, as the watcher names them. */
  ids: string[];
  /** What the driver is told for each phase. */
  command(action: "start" | "stop"): Record<string, unknown>;
  /** The raw event stream's ID for a container ID (same unless CRI). */
  rawId(id: string): string;
  /** Removes everything made. */
  cleanup(): Promise<void>;
}

interface Phase {
  /** Burst begin → last event on the watcher's own subscription. */
  floorMs: number;
  /** Burst begin → last event on an independent raw subscription. */
  rawMs: number;
  watcherMs: number;
  tailMs: number;
  rawSeen: number;
  rawDuplicates: number;
  /** Per container: its event on the raw stream → a subscriber got it. */
  delays: number[];
}

// Arrival times (performance.now()) of the raw stream's events, first per
// ID and type; repeated ones are counted.
class RawLog {
  first = new Map<string, number>();
  duplicates = 0;
  record(e: ContainerEvent) {
    const key = `${e.type} ${e.id}`;
    if (this.first.has(key)) this.duplicates++;
    else this.first.set(key, performance.now());
  }
}

// A subscriber that checks its sequence: for every ID of the burst,
// exactly one started, then exactly one exited.
class Checked {
  started = new Map<string, number>();
  exited = new Map<string, number>();
  errors: string[] = [];
  #watcher: Watcher;
  #ids: Set<string>;
  #allStarted = Promise.withResolvers<number>();
  #allExited = Promise.withResolvers<number>();
  #done: Promise<void>;

  constructor(watcher: Watcher, ids: Set<string>) {
    this.#watcher = watcher;
    this.#ids = ids;
    const sub = watcher.events({ queueSize: 1_000_000 });
    this.#done = (async () => {
      for await (const e of sub) this.#see(e);
    })();
  }

  #see(e: WatcherEvent) {
    if (!this.#ids.has(e.id)) return;
    const now = performance.now();
    if (e.type === "started") {
      if (this.started.has(e.id)) this.errors.push(`started twice: ${e.id}`);
      this.started.set(e.id, now);
      if (this.started.size === this.#ids.size) {
        const held = [...this.#ids].every((id) =>
          this.#watcher.portfolio.container(id)
        );
        if (!held) this.errors.push("portfolio lacks started containers");
        this.#allStarted.resolve(now);
      }
    } else if (e.type === "exited") {
      if (!this.started.has(e.id)) this.errors.push(`exit first: ${e.id}`);
      if (this.exited.has(e.id)) this.errors.push(`exited twice: ${e.id}`);
      this.exited.set(e.id, now);
      if (this.exited.size === this.#ids.size) {
        const held = [...this.#ids].some((id) =>
          this.#watcher.portfolio.container(id)
        );
        if (held) this.errors.push("portfolio keeps exited containers");
        this.#allExited.resolve(now);
      }
    } else this.errors.push(`${e.type} ${e.id}`);
  }

  allStarted(): Promise<number> {
    return this.#allStarted.promise;
  }

  allExited(): Promise<number> {
    return this.#allExited.promise;
  }

  ended(): Promise<void> {
    return this.#done;
  }
}

async function dockerSetup(r: Rig, n: number): Promise<Setup> {
  const fleet = new DockerFleet(target("docker").socket, r.image);
  const ids = await fleet.create(n);
  return {
    ids,
    command: (action) => ({ action, ids }),
    rawId: (id) => id,
    cleanup: () => fleet.removeAll(),
  };
}

async function containerdSetup(_r: Rig, n: number): Promise<Setup> {
  const ctr = new Ctr(target("containerd"));
  const ns = await ctr.namespace("burst");
  const run = crypto.randomUUID().slice(0, 6);
  const bare = Array.from({ length: n }, (_, i) => `b${run}-${i}`);
  return {
    ids: bare.map((id) => `${ns}/${id}`),
    command: (action) => ({ action, ids: bare, namespace: ns }),
    rawId: (id) => id,
    cleanup: async () => {
      await mapPool(bare, (id) => ctr.remove(ns, id), { concurrency: 8 });
    },
  };
}

async function criSetup(_r: Rig, n: number): Promise<Setup> {
  const cri = CriTestClient.of(target("cri"));
  const pods = await mapPool(
    Array.from({ length: PODS }, (_, i) => i),
    (i) => cri.runPod(`burst-${i}`, { namespace: "burst" }),
    { concurrency: 4 },
  );
  const ids = await mapPool(
    Array.from({ length: n }, (_, i) => i),
    (i) => cri.createContainer(pods[i % PODS], `c${i}`),
    { concurrency: 8 },
  );
  return {
    ids,
    command: (action) => ({ action, ids }),
    rawId: (id) => `k8s.io/${id}`,
    cleanup: () => cri.close(),
  };
}

const ENGINES = {
  docker: {
    setup: dockerSetup,
    socket: () => target("docker").socket,
    client: (): EngineClient => new DockerClient(target("docker").socket),
    raw: (): EngineClient => new DockerClient(target("docker").socket),
  },
  containerd: {
    setup: containerdSetup,
    socket: () => target("containerd").socket,
    client: (): EngineClient =>
      new ContainerdClient(target("containerd").socket),
    raw: (): EngineClient => new ContainerdClient(target("containerd").socket),
  },
  cri: {
    setup: criSetup,
    socket: () => target("cri").socket,
    client: (): EngineClient => new CriClient(target("cri").socket),
    raw: (): EngineClient =>
      new ContainerdClient(target("cri").socket, { ignoredNamespaces: [] }),
  },
};

// Records each event of `engine`'s subscriptions as it leaves the adaptor,
// before the watcher gets it.
function tap(engine: EngineClient, log: RawLog): EngineClient {
  const subscribe = engine.lifecycleEvents.bind(engine);
  engine.lifecycleEvents = async (options) => {
    const events = await subscribe(options);
    return (async function* () {
      for await (const e of events) {
        log.record(e);
        yield e;
      }
    })();
  };
  return engine;
}

type EngineName = keyof typeof ENGINES;

async function round(
  r: Rig,
  name: EngineName,
  n: number,
): Promise<{ start: Phase; stop: Phase; errors: string[] }> {
  const engine = ENGINES[name];
  const setup = await engine.setup(r, n);
  const driver = new JsonChild(Deno.execPath(), [
    "run",
    "-A",
    DRIVER,
    name,
    engine.socket(),
    target(name).daemon,
  ], {});
  const raw = engine.raw();
  const rawAbort = new AbortController();
  const stream = new RawLog(); // the watcher's own stream
  const watcher = new Watcher(tap(engine.client(), stream));
  const watching = watcher.watch();
  try {
    const log = new RawLog(); // an independent subscription
    const rawEvents = await raw.lifecycleEvents({ signal: rawAbort.signal });
    const rawReading = (async () => {
      for await (const e of rawEvents) log.record(e);
    })();
    await watcher.ready;
    const ids = new Set(setup.ids);
    const subs = [new Checked(watcher, ids), new Checked(watcher, ids)];

    const phase = async (
      action: "start" | "stop",
      type: "started" | "exited",
    ): Promise<Phase> => {
      const duplicatesBefore = stream.duplicates;
      const t0 = performance.now();
      await driver.send(JSON.stringify(setup.command(action)));
      const all = Promise.all(
        subs.map((s) => action === "start" ? s.allStarted() : s.allExited()),
      );
      await driver.next(); // the driver is done (or failed: it throws)
      const done = await within(all, 60_000, `${name}: all ${type}`);
      const last = (l: RawLog, id: (id: string) => string) => {
        const times = setup.ids.map((i) => l.first.get(`${type} ${id(i)}`))
          .filter((t) => t !== undefined) as number[];
        return { seen: times.length, last: Math.max(...times) };
      };
      const own = last(stream, (id) => id);
      const independent = last(log, setup.rawId);
      const watcherLast = Math.max(...done);
      const delays = subs.flatMap((sub) =>
        setup.ids.map((id) =>
          (type === "started" ? sub.started : sub.exited).get(id)! -
          stream.first.get(`${type} ${id}`)!
        )
      );
      return {
        delays,
        floorMs: own.last - t0,
        rawMs: independent.last - t0,
        watcherMs: watcherLast - t0,
        tailMs: watcherLast - own.last,
        rawSeen: own.seen,
        rawDuplicates: stream.duplicates - duplicatesBefore,
      };
    };
    const start = await phase("start", "started");
    const stop = await phase("stop", "exited");
    rawAbort.abort();
    await rawReading;
    const errors = subs.flatMap((s) => s.errors);
    for (const [i, s] of subs.entries()) {
      if (s.started.size !== n || s.exited.size !== n) {
        errors.push(
          `subscriber ${i}: ${s.started.size} started, ${s.exited.size} exited of ${n}`,
        );
      }
    }
    if (watcher.stats.repairs > 0) {
      errors.push(`reconciliation repaired ${watcher.stats.repairs}`);
    }
    await watcher.close();
    await watching;
    for (const s of subs) await s.ended();
    return { start, stop, errors };
  } finally {
    rawAbort.abort();
    await watcher.close();
    await raw.close();
    await driver.finish();
    await setup.cleanup();
  }
}

function report(name: string, phase: string, runs: Phase[]) {
  const m = (key: Exclude<keyof Phase, "delays">) =>
    median(runs.map((p) => p[key]));
  const ratio = median(runs.map((p) => p.watcherMs / p.floorMs));
  const raw = runs.map((p) =>
    `${p.rawSeen}${p.rawDuplicates ? `+${p.rawDuplicates} dup` : ""}`
  ).join(", ");
  console.log(
    `   ${name.padEnd(10)} ${phase.padEnd(5)} floor ${
      m("floorMs").toFixed(0).padStart(6)
    } ms (independent stream ${m("rawMs").toFixed(0)})  watcher ${
      m("watcherMs").toFixed(0).padStart(6)
    } ms  ratio ${ratio.toFixed(3)} (≤ 1.2)  tail ${
      m("tailMs").toFixed(1).padStart(6)
    } ms (≤ 50; max ${
      Math.max(...runs.map((p) => p.tailMs)).toFixed(1)
    })  events seen: ${raw}`,
  );
  const delays = runs.flatMap((p) => p.delays);
  console.log(
    `${" ".repeat(20)}per container, raw event → subscriber: p50 ${
      percentile(delays, 0.5).toFixed(1)
    } ms, p99 ${percentile(delays, 0.99).toFixed(1)} ms, max ${
      Math.max(...delays).toFixed(1)
    } ms`,
  );
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      engine: { type: "string", multiple: true },
      containers: { type: "string", default: "300" },
      rounds: { type: "string", default: "3" },
      daemon: { type: "string" },
    },
  });
  daemon = values.daemon;
  const r = rig();
  if (!r) throw new Error("the rig is not up: source <rig dir>/env first");
  const n = Number(values.containers);
  const rounds = Number(values.rounds);
  const names = (values.engine ?? Object.keys(ENGINES)) as EngineName[];
  const results: Record<string, { start: Phase[]; stop: Phase[] }> = {};
  const errors: string[] = [];
  for (const name of names) {
    results[name] = { start: [], stop: [] };
    for (let i = 0; i < rounds; i++) {
      const res = await round(r, name, n);
      results[name].start.push(res.start);
      results[name].stop.push(res.stop);
      errors.push(...res.errors.map((e) => `${name}: ${e}`));
      console.log(
        `${name} round ${i + 1}: start floor ${
          res.start.floorMs.toFixed(0)
        } ms tail ${res.start.tailMs.toFixed(1)} ms; stop floor ${
          res.stop.floorMs.toFixed(0)
        } ms tail ${
          res.stop.tailMs.toFixed(1)
        } ms; ${res.errors.length} errors`,
      );
    }
  }
  console.log(
    `\nbursts of ${n} containers (median of ${rounds}; floor = raw event stream)`,
  );
  for (const name of names) {
    const e = target(name);
    console.log(`   ${name}: ${e.daemon} (${e.kind} ${e.version})`);
    report(name, "start", results[name].start);
    report(name, "stop", results[name].stop);
  }
  console.log(
    `   events: each subscriber got one started and one exited per container: ${
      errors.length === 0 ? "yes" : `NO\n     ${errors.join("\n     ")}`
    }`,
  );
  printLoadAverage();
}

if (import.meta.main) await main();
