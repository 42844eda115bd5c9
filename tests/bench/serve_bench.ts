// The agent's figures (a script that prints them; `deno bench` ignores it):
//
//   source <rig dir>/env && deno run -A tests/bench/serve_bench.ts [latency|fanout|snapshot|all]
//
// 1. latency: the agent (`serve/mod.ts`, its own process) on the rig's
//    dockerd; this process reads dockerd's raw event stream (`/events` of
//    the Docker API) and the agent's `/events`; per pause/unpause (and per
//    start, which costs one inspect), the delay from the raw event to the
//    SSE event; p50 and p99.
// 2. fanout: 100 SSE clients on an agent process whose fleet is an
//    in-memory engine producing 2,000 events/s for 10 s: events lost per
//    client (none expected), the agent's CPU and RSS.
// 3. snapshot: `/containers` with 10,000 containers (in-memory engine):
//    response time and bytes, whole and filtered to one project.
//
// The in-memory agent runs as `deno run -A tests/bench/serve_bench.ts
// --child N` (N seeded containers); it prints its URL, then produces
// events at the rate given on stdin (`RATE SECONDS`) and prints `done M`.
import { startAgent } from "../../serve/mod.ts";
import { rig } from "../engines/rig.ts";
import { docker } from "../engines/docker.ts";
import { memFleet } from "../serve/_mem_fleet.ts";
import { printLoadAverage } from "./_scale.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const enc = new TextEncoder();

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
}

const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

/** CPU ticks (user + system) and RSS of a process, from procfs. */
async function procStats(pid: number) {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)![1]) * 1024;
  return {
    cpuSeconds: (Number(fields[11]) + Number(fields[12])) / 100,
    rss: kb("VmRSS"),
    hwm: kb("VmHWM"),
  };
}

/** A line reader over a child's stdout. */
function lines(stream: ReadableStream<Uint8Array>) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  return async (): Promise<string> => {
    while (!buffer.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the child ended; had ${buffer}`);
      buffer += value;
    }
    const i = buffer.indexOf("\n");
    const line = buffer.slice(0, i);
    buffer = buffer.slice(i + 1);
    return line;
  };
}

/** An SSE reader that only splits frames and notes ids and event names. */
class CountingClient {
  events = 0;
  ids: number[] = [];
  gaps = 0;
  last = 0;
  snapshotMs = 0;
  #reader: ReadableStreamDefaultReader<string> | undefined;
  #done: Promise<void> = Promise.resolve();
  onEvent?: (event: string, data: string) => void;

  async connect(url: string): Promise<void> {
    const t0 = performance.now();
    const res = await fetch(new URL("events", url));
    if (res.status !== 200) throw new Error(`/events answered ${res.status}`);
    this.#reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let gotSnapshot: () => void;
    const snapshot = new Promise<void>((r) => gotSnapshot = r);
    this.#done = (async () => {
      while (true) {
        const { value, done } = await this.#reader!.read().catch(() => ({
          value: "",
          done: true,
        }));
        if (done) return;
        // Search only the new text (a snapshot arrives in many chunks).
        let from = Math.max(0, buffer.length - 1);
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf("\n\n", from)) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          from = 0;
          if (!frame.startsWith("id: ")) continue;
          const nl = frame.indexOf("\n");
          const id = Number(frame.slice(4, nl));
          const nl2 = frame.indexOf("\n", nl + 1);
          const event = frame.slice(nl + 8, nl2);
          if (event === "snapshot") {
            this.last = id;
            this.snapshotMs = performance.now() - t0;
            gotSnapshot!();
            continue;
          }
          if (id !== this.last + 1) this.gaps++;
          this.last = id;
          this.events++;
          this.onEvent?.(event, frame.slice(nl2 + 7));
        }
      }
    })();
    await snapshot;
  }

  async close(): Promise<void> {
    await this.#reader?.cancel().catch(() => {});
    await this.#done;
  }
}

/** The in-memory agent process. */
function spawnMemAgent(seed: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "--child", String(seed)],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const next = lines(child.stdout);
  const writer = child.stdin.getWriter();
  return {
    child,
    next,
    async url() {
      const line = await next();
      if (!line.startsWith("url ")) throw new Error(`unexpected: ${line}`);
      return line.slice(4);
    },
    async send(line: string) {
      await writer.write(enc.encode(line + "\n"));
    },
    async stop() {
      await writer.close().catch(() => {});
      await child.status;
    },
  };
}

async function fanout(clients = 100, rate = 2000, seconds = 10) {
  console.log(
    `\n2. fanout: ${clients} SSE clients, in-memory engine at ${rate} events/s for ${seconds} s`,
  );
  const agent = spawnMemAgent(0);
  const url = await agent.url();
  const readers = Array.from({ length: clients }, () => new CountingClient());
  try {
    for (const r of readers) await r.connect(url);
    const before = await procStats(agent.child.pid);
    const self0 = await procStats(Deno.pid);
    const t0 = performance.now();
    await agent.send(`${rate} ${seconds}`);
    let peak = before.rss;
    const sampler = setInterval(async () => {
      peak = Math.max(peak, (await procStats(agent.child.pid)).rss);
    }, 250);
    const done = await agent.next();
    const produced = Number(done.split(" ")[1]);
    const wall = (performance.now() - t0) / 1000;
    const after = await procStats(agent.child.pid);
    // Every client should reach the last event: wait for stragglers.
    const deadline = performance.now() + 30_000;
    while (
      readers.some((r) => r.events < produced) && performance.now() < deadline
    ) await new Promise((r) => setTimeout(r, 50));
    clearInterval(sampler);
    const drain = (performance.now() - t0) / 1000;
    const self1 = await procStats(Deno.pid);
    const lost = readers.map((r) => produced - r.events);
    const gaps = readers.reduce((n, r) => n + r.gaps, 0);
    const metrics = await (await fetch(new URL("metrics", url))).text();
    const dropped = /^whalewatcher_sse_clients_dropped_total (\d+)/m.exec(
      metrics,
    )![1];
    console.log(
      `   produced ${produced} events in ${
        wall.toFixed(1)
      } s; all ${clients} clients done after ${drain.toFixed(1)} s`,
    );
    console.log(
      `   lost per client: max ${Math.max(...lost)}, total ${
        lost.reduce((a, b) => a + b, 0)
      }; id gaps ${gaps}; clients dropped ${dropped}`,
    );
    console.log(
      `   agent CPU ${
        ((after.cpuSeconds - before.cpuSeconds) / wall * 100).toFixed(0)
      } % of one core; RSS ${mb(before.rss)} → peak ${mb(peak)} → ${
        mb(after.rss)
      } MB (${(produced * clients / wall / 1000).toFixed(0)}k deliveries/s)`,
    );
    console.log(
      `   (the ${clients} clients in this process: CPU ${
        ((self1.cpuSeconds - self0.cpuSeconds) / drain * 100).toFixed(0)
      } %)`,
    );
  } finally {
    for (const r of readers) await r.close();
    await agent.stop();
  }
}

async function snapshot(n = 10_000) {
  console.log(`\n3. snapshot: /containers with ${n} containers`);
  const agent = spawnMemAgent(n);
  const url = await agent.url();
  try {
    for (
      const [label, path] of [["all", "containers"], [
        "one project (1 %)",
        "containers?project=p7",
      ]]
    ) {
      const times: number[] = [];
      let bytes = 0;
      for (let i = 0; i < 30; i++) {
        const t0 = performance.now();
        const res = await fetch(new URL(path, url));
        const body = await res.arrayBuffer();
        times.push(performance.now() - t0);
        bytes = body.byteLength;
      }
      times.splice(0, 5); // warm-up
      console.log(
        `   ${label}: ${(bytes / 1024).toFixed(0)} KiB, p50 ${
          percentile(times, 0.5).toFixed(1)
        } ms, p99 ${percentile(times, 0.99).toFixed(1)} ms`,
      );
    }
    const sse = new CountingClient();
    await sse.connect(url);
    console.log(
      `   /events snapshot of ${n}: first event after ${
        sse.snapshotMs.toFixed(1)
      } ms`,
    );
    await sse.close();
    const stats = await procStats(agent.child.pid);
    console.log(`   agent RSS ${mb(stats.rss)} MB`);
  } finally {
    await agent.stop();
  }
}

async function latency(rounds = 200) {
  const r = rig();
  if (!r) throw new Error("the rig is not up: source <rig dir>/env first");
  console.log(
    `\n1. latency: dockerd's raw event stream → the agent's /events (agent in its own process), ${rounds} pause/unpause`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${ROOT}serve/mod.ts`,
      "--socket",
      r.dockerSocket,
      "--listen",
      "127.0.0.1:0",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const next = lines(child.stderr);
  let url = "";
  while (!url) {
    const m = /serving (\S+)/.exec(await next());
    if (m) url = m[1];
  }
  const drainStderr = (async () => {
    try {
      while (true) await next();
    } catch { /* ended */ }
  })();
  const http = Deno.createHttpClient({
    proxy: { transport: "unix", path: r.dockerSocket },
  });
  const raw = await fetch(
    `http://docker/events?filters=${
      encodeURIComponent(JSON.stringify({ type: ["container"] }))
    }`,
    { client: http },
  );
  const rawTimes = new Map<string, number>();
  const sseTimes = new Map<string, number>();
  const rawReader = raw.body!.pipeThrough(new TextDecoderStream()).getReader();
  const rawDone = (async () => {
    let buffer = "";
    while (true) {
      const { value, done } = await rawReader.read().catch(() => ({
        value: "",
        done: true,
      }));
      if (done) return;
      const now = performance.now();
      buffer += value;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const e = JSON.parse(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        const action = e.Action ?? e.status;
        const type = { start: "started", pause: "paused", unpause: "unpaused" }[
          action as string
        ];
        if (type) rawTimes.set(`${type} ${e.id}`, now);
      }
    }
  })();
  const sse = new CountingClient();
  sse.onEvent = (event, data) => {
    const id = /"id":"([^"]+)"/.exec(data)?.[1];
    sseTimes.set(`${event} ${id}`, performance.now());
  };
  await sse.connect(url);
  const ids: string[] = [];
  const waitBoth = async (key: string) => {
    const deadline = performance.now() + 10_000;
    while (!(rawTimes.has(key) && sseTimes.has(key))) {
      if (performance.now() > deadline) throw new Error(`no ${key}`);
      await new Promise((r) => setTimeout(r, 1));
    }
    return sseTimes.get(key)! - rawTimes.get(key)!;
  };
  try {
    const pause: number[] = [];
    const start: number[] = [];
    for (let i = 0; i < 20; i++) {
      const id = await docker(
        "run",
        "-d",
        "--name",
        `lat-${crypto.randomUUID().slice(0, 8)}`,
        r.image,
      );
      ids.push(id);
      start.push(await waitBoth(`started ${id}`));
    }
    for (let i = 0; i < rounds; i++) {
      const id = ids[i % ids.length];
      const op = i % (2 * ids.length) < ids.length ? "pause" : "unpause";
      await docker(op, id);
      pause.push(await waitBoth(`${op}d ${id}`));
      rawTimes.clear();
      sseTimes.clear();
    }
    const fmt = (xs: number[]) =>
      `p50 ${percentile(xs, 0.5).toFixed(2)} ms, p99 ${
        percentile(xs, 0.99).toFixed(2)
      } ms, max ${Math.max(...xs).toFixed(2)} ms`;
    console.log(
      `   pause/unpause (${pause.length}): ${
        fmt(pause)
      }  (target p50 ≤ 5, p99 ≤ 20)`,
    );
    console.log(`   start (${start.length}, one inspect each): ${fmt(start)}`);
    printLoadAverage();
  } finally {
    await sse.close();
    await rawReader.cancel().catch(() => {});
    await rawDone;
    http.close();
    if (ids.length) await docker("rm", "-f", ...ids).catch(() => {});
    child.kill("SIGTERM");
    await child.status;
    await drainStderr;
  }
}

/** The in-memory agent process (see the header). */
async function childAgent(seed: number) {
  const mem = memFleet({
    seed: (engine) => {
      for (let i = 0; i < seed; i++) {
        engine.add({
          id: crypto.randomUUID().replaceAll("-", "").repeat(2),
          name: `svc-${i}`,
          labels: {
            "com.docker.compose.project": `p${i % 100}`,
            "com.docker.compose.service": `svc${i % 17}`,
            "org.opencontainers.image.source": "https://example.org/app",
            tier: i % 2 ? "front" : "back",
          },
        });
      }
    },
  });
  await using fleet = mem.fleet;
  await using agent = await startAgent({
    fleet,
    listen: "127.0.0.1:0",
    maxClients: 1000,
  });
  await fleet.ready;
  const engine = await mem.engine("mem://a");
  console.log(`url ${agent.url}`);
  const input = lines(Deno.stdin.readable);
  while (true) {
    let line: string;
    try {
      line = await input();
    } catch {
      return; // stdin closed: stop
    }
    const [rate, seconds] = line.split(" ").map(Number);
    // Ticks of 10 ms: each starts rate/200 containers and stops as many.
    const perTick = Math.max(1, Math.round(rate / 200));
    const ticks = seconds * 100;
    let produced = 0;
    let alive: string[] = [];
    const t0 = performance.now();
    for (let t = 0; t < ticks; t++) {
      const started: string[] = [];
      for (let i = 0; i < perTick; i++) {
        const id = `e${t}-${i}`;
        engine.start({ id, name: `n${t}-${i}`, labels: { tier: "front" } });
        started.push(id);
      }
      for (const id of alive) engine.exit(id);
      produced += perTick + alive.length;
      alive = started;
      const wait = t0 + (t + 1) * 10 - performance.now();
      await new Promise((r) => setTimeout(r, Math.max(0, wait)));
    }
    for (const id of alive) engine.exit(id);
    produced += alive.length;
    // Let the last events through before telling.
    await new Promise((r) => setTimeout(r, 50));
    console.log(`done ${produced}`);
  }
}

async function main() {
  const i = Deno.args.indexOf("--child");
  if (i >= 0) return await childAgent(Number(Deno.args[i + 1]));
  const what = Deno.args[0] ?? "all";
  if (what === "latency" || what === "all") await latency();
  if (what === "fanout" || what === "all") await fanout();
  if (what === "snapshot" || what === "all") await snapshot();
}

if (import.meta.main) await main();
