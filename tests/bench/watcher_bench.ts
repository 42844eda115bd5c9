// Watcher core benchmark with an in-memory engine (issue 2's workloads):
//   W1 sync: list of N containers at once, time from watch() to ready, and
//      heap bytes per tracked container;
//   W2 churn: 100,000 events in blocks of 20 over M alive containers, time
//      until one subscriber has received them all (also with PROJECT_UNKNOWN);
//   W3 queries: lookups by random ID, full passes over all containers.
// Prints a table of medians over RUNS runs. Run:
//   deno run -A tests/bench/watcher_bench.ts [--runs=5] [--quick]
// It re-runs itself with --v8-flags=--expose-gc when gc() is not exposed.

import {
  type CallOptions,
  type Container,
  type ContainerEvent,
  type EngineClient,
  newContainer,
  ProcesslessContainerError,
  PROJECT_UNKNOWN,
} from "../../engineclient/mod.ts";
import { Watcher } from "../../watcher/mod.ts";

const gc = (globalThis as { gc?: () => void }).gc;
const RUNS = Number(
  Deno.args.find((a) => a.startsWith("--runs="))?.slice(7) ?? 3,
);
const QUICK = Deno.args.includes("--quick");

function hexId(i: number): string {
  const h = (i + 1).toString(16).padStart(8, "0");
  return (h + "deadbeef").repeat(4);
}

function makeContainer(i: number): Container {
  const labels: Record<string, string> = {};
  for (let l = 0; l < 5; l++) labels[`label-${l}`] = `value-${l}-${i}`;
  if (i % 10 === 0) {
    labels["com.docker.compose.project"] = `project-${(i / 10) % 20}`;
  }
  return newContainer({
    id: hexId(i),
    name: `ctr-${String(i).padStart(7, "0")}`,
    labels,
    pid: 10000 + i,
  });
}

// Deterministic PRNG so every run does the same work.
function prng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
}

// The in-memory engine: a truth map, an alive array for random picks, and
// an event stream produced on demand once `go()` is called.
class MemoryEngine implements EngineClient {
  readonly type = "memory.bench";
  readonly api = "memory://";
  readonly pid = 0;
  readonly client = null;
  truth = new Map<string, Container>();
  known = new Map<string, Container>();
  final = new Map<string, Container>();
  alive: string[] = [];
  #aliveIndex = new Map<string, number>();
  #next: () => ContainerEvent | undefined = () => undefined;
  #go: (() => void) | undefined;
  #started: Promise<void>;

  constructor(n: number) {
    for (let i = 0; i < n; i++) this.#add(makeContainer(i));
    this.#started = new Promise((resolve) => (this.#go = resolve));
  }

  #add(c: Container) {
    this.truth.set(c.id, c);
    this.known.set(c.id, c);
    this.#aliveIndex.set(c.id, this.alive.length);
    this.alive.push(c.id);
  }

  remove(id: string) {
    this.truth.delete(id);
    const i = this.#aliveIndex.get(id)!;
    const last = this.alive.pop()!;
    if (last !== id) {
      this.alive[i] = last;
      this.#aliveIndex.set(last, i);
    }
    this.#aliveIndex.delete(id);
  }

  // Sets up W2's events: blocks of 20, generated before the clock starts
  // so that the engine's own bookkeeping is not timed. `known` keeps every
  // container for inspect (victims are picked among containers alive
  // before the block, so none is inspected after its exit).
  churn(total: number, unknownProject: boolean) {
    const initial = new Map(this.truth);
    const rnd = prng(42);
    let nextId = this.truth.size;
    const events: ContainerEvent[] = [];
    const project = (c: Container) =>
      unknownProject ? PROJECT_UNKNOWN : c.project;
    const now = Date.now();
    while (events.length < total) {
      const before = this.alive.length;
      const victims: string[] = [];
      while (victims.length < 10) {
        const id = this.alive[rnd(before)];
        if (!victims.includes(id)) victims.push(id);
      }
      for (let k = 0; k < 9; k++) {
        const c = makeContainer(nextId++);
        this.#add(c);
        events.push({
          type: "started",
          id: c.id,
          project: c.project,
          timestamp: now,
        });
        const v = this.truth.get(victims[k])!;
        this.remove(v.id);
        events.push({
          type: "exited",
          id: v.id,
          project: project(v),
          timestamp: now,
        });
      }
      const p = this.truth.get(victims[9])!;
      for (const type of ["paused", "unpaused"] as const) {
        events.push({ type, id: p.id, project: project(p), timestamp: now });
      }
    }
    events.length = total;
    // The watcher must list the state before the churn; `final` is after.
    this.final = this.truth;
    this.truth = initial;
    let pos = 0;
    this.#next = () => events[pos++];
  }

  go() {
    this.#go!();
  }

  list(_options?: CallOptions): Promise<Container[]> {
    return Promise.resolve([...this.truth.values()]);
  }

  inspect(id: string, _options?: CallOptions): Promise<Container> {
    const c = this.known.get(id);
    return c
      ? Promise.resolve(c)
      : Promise.reject(new ProcesslessContainerError(id));
  }

  lifecycleEvents(
    options?: CallOptions,
  ): Promise<AsyncIterable<ContainerEvent>> {
    const signal = options?.signal;
    const started = this.#started;
    let waited = false;
    const done = { value: undefined, done: true } as const;
    const iterator: AsyncIterator<ContainerEvent> = {
      next: async () => {
        if (!waited) {
          // Nothing happens until the benchmark says go (or aborts).
          await Promise.race([
            started,
            new Promise((resolve) =>
              signal?.addEventListener("abort", resolve, { once: true })
            ),
          ]);
          waited = true;
        }
        if (signal?.aborted) return done;
        const value = this.#next();
        if (value === undefined) {
          // Idle until aborted.
          if (signal && !signal.aborted) {
            await new Promise((resolve) =>
              signal.addEventListener("abort", resolve, { once: true })
            );
          }
          return done;
        }
        return { value, done: false };
      },
    };
    return Promise.resolve({ [Symbol.asyncIterator]: () => iterator });
  }

  id() {
    return Promise.resolve("memory");
  }
  version() {
    return Promise.resolve("1");
  }
  close() {
    return Promise.resolve();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function w1(n: number): Promise<{ ms: number; bytes: number }> {
  const engine = new MemoryEngine(n);
  gc?.();
  const heapBefore = Deno.memoryUsage().heapUsed;
  const watcher = new Watcher(engine);
  const controller = new AbortController();
  const t0 = performance.now();
  const watching = watcher.watch(controller.signal);
  await watcher.ready;
  const ms = performance.now() - t0;
  if (watcher.portfolio.size !== n) throw new Error("w1: portfolio incomplete");
  gc?.();
  const bytes = gc ? (Deno.memoryUsage().heapUsed - heapBefore) / n : NaN;
  controller.abort();
  await watching;
  await watcher.close();
  return { ms, bytes };
}

async function w2(m: number, unknownProject: boolean): Promise<number> {
  const total = 100_000;
  const engine = new MemoryEngine(m);
  engine.churn(total, unknownProject);
  const watcher = new Watcher(engine);
  const controller = new AbortController();
  const watching = watcher.watch(controller.signal);
  await watcher.ready;
  const sub = watcher.events();
  let received = 0;
  const t0 = performance.now();
  engine.go();
  for await (const _ of sub) {
    if (++received === total) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  if (
    watcher.portfolio.size !== engine.final.size ||
    watcher.portfolio.containers().some((c) => !engine.final.has(c.id))
  ) {
    throw new Error("w2: portfolio differs from the engine");
  }
  controller.abort();
  await watching;
  await watcher.close();
  return total / seconds;
}

async function w3(
  m: number,
): Promise<{ lookupUs: number; passUs: number; iterUs: number }> {
  const engine = new MemoryEngine(m);
  const watcher = new Watcher(engine);
  const controller = new AbortController();
  const watching = watcher.watch(controller.signal);
  await watcher.ready;
  const portfolio = watcher.portfolio;
  const rnd = prng(7);
  const lookups = 100_000;
  const keys = Array.from({ length: lookups }, () => engine.alive[rnd(m)]);
  let sum = 0;
  for (let i = 0; i < 10_000; i++) sum += portfolio.container(keys[i])!.pid; // warm up
  let t0 = performance.now();
  for (let i = 0; i < lookups; i++) sum += portfolio.container(keys[i])!.pid;
  const lookupUs = (performance.now() - t0) * 1000 / lookups;
  const passes = 1000;
  t0 = performance.now();
  for (let p = 0; p < passes; p++) {
    for (const c of portfolio.containers()) sum += c.pid;
  }
  const passUs = (performance.now() - t0) * 1000 / passes;
  t0 = performance.now();
  for (let p = 0; p < passes; p++) {
    for (const c of portfolio) sum += c.pid;
  }
  const iterUs = (performance.now() - t0) * 1000 / passes;
  if (sum === 0) throw new Error("unreachable");
  controller.abort();
  await watching;
  await watcher.close();
  return { lookupUs, passUs, iterUs };
}

async function main() {
  if (!gc) {
    // Heap figures need gc(): run again with it exposed.
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        new URL(import.meta.url).pathname,
        ...Deno.args,
      ],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    Deno.exit(code);
  }
  const rows: [string, string, string][] = [];
  function row(name: string, value: string, target: string) {
    rows.push([name, value, target]);
    console.error(`  ${name}: ${value}`);
  }

  console.error(`watcher benchmark, median of ${RUNS} runs`);
  for (const n of QUICK ? [1_000, 10_000] : [1_000, 10_000, 50_000]) {
    const runs = [];
    for (let r = 0; r < RUNS; r++) runs.push(await w1(n));
    row(
      `W1 sync N=${n}: watch() to ready`,
      `${median(runs.map((x) => x.ms)).toFixed(2)} ms`,
      n === 10_000 ? "<= 25 ms" : n === 50_000 ? "<= 150 ms" : "",
    );
    row(
      `W1 heap per container N=${n}`,
      `${median(runs.map((x) => x.bytes)).toFixed(0)} B`,
      "<= 600 B",
    );
  }
  for (const m of [1_000, 10_000]) {
    for (const unknown of [false, true]) {
      const runs = [];
      for (let r = 0; r < RUNS; r++) runs.push(await w2(m, unknown));
      row(
        `W2 churn M=${m}${unknown ? " PROJECT_UNKNOWN" : ""}`,
        `${(median(runs) / 1000).toFixed(0)}k events/s`,
        m === 1_000 ? ">= 400k events/s" : ">= 300k events/s",
      );
    }
  }
  {
    const runs = [];
    for (let r = 0; r < RUNS; r++) runs.push(await w3(10_000));
    row(
      "W3 lookup by ID M=10000",
      `${median(runs.map((x) => x.lookupUs)).toFixed(3)} µs`,
      "<= 0.3 µs",
    );
    row(
      "W3 pass containers() M=10000",
      `${median(runs.map((x) => x.passUs)).toFixed(1)} µs`,
      "(Go 55.7 µs)",
    );
    row(
      "W3 pass by iterator M=10000",
      `${median(runs.map((x) => x.iterUs)).toFixed(1)} µs`,
      "",
    );
  }

  const widths = [0, 1, 2].map((i) =>
    Math.max(...rows.map((r) => r[i].length), 6)
  );
  const line = (r: string[]) =>
    "| " + r.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  console.log(line(["workload", "median", "target"]));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const r of rows) console.log(line(r));
}

if (import.meta.main) {
  await main();
} else {
  // Under `deno bench` (deno task bench): the same workloads, fewer sizes.
  Deno.bench("W1 sync N=10000", { n: 5, warmup: 1 }, async () => {
    await w1(10_000);
  });
  Deno.bench("W2 churn M=1000 (100k events)", { n: 3, warmup: 1 }, async () => {
    await w2(1_000, true);
  });
  Deno.bench(
    "W2 churn M=10000 (100k events)",
    { n: 3, warmup: 1 },
    async () => {
      await w2(10_000, true);
    },
  );
  Deno.bench("W3 queries M=10000", { n: 3, warmup: 1 }, async () => {
    await w3(10_000);
  });
}
