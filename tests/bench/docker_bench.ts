// Docker adaptor benchmark against the rig's dockerd (a script that prints
// figures; `deno bench` ignores it):
//
//   source <rig dir>/env && deno run -A tests/bench/docker_bench.ts [N]
//
// 1. watch() → ready with N (default 200) running containers, against the
//    floor (a bare dockerode list plus inspects of all N at the same
//    concurrency) and against one-after-another inspection; median of 5.
// 2. Event latency of 200 pause/unpause operations: delay between an
//    event's arrival on a raw dockerode event stream in this process and
//    its delivery by the watcher; p50 and p99. Also for start events.
import Docker from "dockerode";
import { watchDocker } from "../../docker.ts";
import { primary, rig } from "../engines/rig.ts";
import { docker, DockerCli } from "../engines/docker.ts";
import { EventRecorder } from "../integration/_recorder.ts";
import { printLoadAverage } from "./_scale.ts";

const CONCURRENCY = Number(Deno.env.get("WW_BENCH_CONCURRENCY") ?? 8);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
}

async function floor(client: Docker, concurrency: number): Promise<number> {
  const t0 = performance.now();
  const list = await client.listContainers({
    filters: { status: ["running", "paused"] },
  } as Docker.ContainerListOptions);
  let next = 0;
  const worker = async () => {
    while (next < list.length) {
      await client.getContainer(list[next++].Id).inspect();
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(concurrency, list.length) }, worker),
  );
  return performance.now() - t0;
}

async function main() {
  const r = rig();
  if (!r) throw new Error("the rig is not up: source <rig dir>/env first");
  const n = Number(Deno.args[0] ?? 200);
  const prefix = `bench-${crypto.randomUUID().slice(0, 6)}`;
  const ids: string[] = [];
  const client = new Docker({ socketPath: r.dockerSocket });
  try {
    console.log(`starting ${n} containers ...`);
    for (let i = 0; i < n; i += 10) {
      const batch = [];
      for (let j = i; j < Math.min(n, i + 10); j++) {
        batch.push(docker("run", "-d", "--name", `${prefix}-${j}`, r.image));
      }
      ids.push(...await Promise.all(batch));
    }

    const floors: number[] = [];
    const readies: number[] = [];
    const sequentials: number[] = [];
    for (let round = 0; round < 5; round++) {
      floors.push(await floor(client, CONCURRENCY));
      const t0 = performance.now();
      const watcher = watchDocker(r.dockerSocket, {
        engine: { concurrency: CONCURRENCY },
      });
      const watching = watcher.watch();
      await watcher.ready;
      readies.push(performance.now() - t0);
      if (watcher.portfolio.size < n) {
        throw new Error(`watcher saw ${watcher.portfolio.size} of ${n}`);
      }
      await watcher.close();
      await watching;
      sequentials.push(await floor(client, 1));
    }
    const f = median(floors), w = median(readies), s = median(sequentials);
    console.log(`\n1. watch() → ready, ${n} containers (median of 5, ms)`);
    console.log(
      `   floor (list + inspects, concurrency ${CONCURRENCY}): ${f.toFixed(1)}`,
    );
    console.log(
      `   watcher:                                   ${w.toFixed(1)}  (${
        (w / f).toFixed(2)
      } × floor; target ≤ 1.1)`,
    );
    console.log(
      `   one-after-another inspection:              ${
        s.toFixed(1)
      }  (watcher ${(w / s).toFixed(2)} ×; target ≤ 0.5)`,
    );

    // 2. Event latency.
    const raw = new Map<string, number>();
    const abort = new AbortController();
    const stream = await client.getEvents({
      filters: { type: ["container"] },
      abortSignal: abort.signal,
    } as Docker.GetEventsOptions) as NodeJS.ReadableStream;
    let buffer = "";
    stream.on("data", (chunk: Uint8Array) => {
      const now = performance.now();
      buffer += new TextDecoder().decode(chunk);
      let i;
      while ((i = buffer.indexOf("\n")) >= 0) {
        const e = JSON.parse(buffer.slice(0, i));
        buffer = buffer.slice(i + 1);
        raw.set(`${e.Action}:${e.id}:${e.timeNano}`, now);
      }
    });
    stream.on("error", () => {});
    const watcher = watchDocker(r.dockerSocket);
    const watching = watcher.watch();
    await watcher.ready;
    const delivered = new Map<string, number>();
    const action = {
      started: "start",
      exited: "die",
      paused: "pause",
      unpaused: "unpause",
    };
    const rec = new EventRecorder(watcher, {
      onEvent(e) {
        delivered.set(
          `${action[e.type]}:${e.id}:${Math.round(e.timestamp * 1e6)}`,
          performance.now(),
        );
      },
    });
    const targets = ids.slice(0, 100);
    for (const id of targets) {
      await docker("pause", id);
      await docker("unpause", id);
    }
    const extra: string[] = [];
    for (let j = 0; j < 20; j++) {
      extra.push(
        await docker("run", "-d", "--name", `${prefix}-x${j}`, r.image),
      );
    }
    ids.push(...extra);
    // Every event of the operations above has arrived once a marker's have.
    await rec.settle(DockerCli.of(primary("docker")).marker());
    abort.abort();
    await rec.stop();
    await watcher.close();
    await watching;
    const delays = (action: string) => {
      const out: number[] = [];
      for (const [key, at] of raw) {
        if (!key.startsWith(action + ":")) continue;
        // timeNano → ms → ns loses precision: match by action, id and ±1 µs.
        const [, id, nano] = key.split(":");
        for (const [k2, t2] of delivered) {
          const [a2, id2, n2] = k2.split(":");
          if (
            a2 === action && id2 === id &&
            Math.abs(Number(n2) - Number(nano)) < 1000
          ) {
            out.push(t2 - at);
            break;
          }
        }
      }
      return out;
    };
    const pu = [...delays("pause"), ...delays("unpause")];
    const st = delays("start");
    console.log(`\n2. event latency after the raw stream (ms)`);
    console.log(
      `   pause/unpause: ${pu.length} events  p50 ${
        percentile(pu, 0.5).toFixed(2)
      }  p99 ${percentile(pu, 0.99).toFixed(2)}  (targets ≤ 2, ≤ 10)`,
    );
    // One inspect round trip, as measured by the one-after-another rounds.
    const rtt = s / n;
    console.log(
      `   start:         ${st.length} events  p50 ${
        percentile(st, 0.5).toFixed(2)
      }  p99 ${
        percentile(st, 0.99).toFixed(2)
      }  (target: pause/unpause + one inspect round trip ≈ ${rtt.toFixed(2)})`,
    );
    printLoadAverage();
  } finally {
    console.log(`\nremoving ${ids.length} containers ...`);
    for (let i = 0; i < ids.length; i += 50) {
      await docker("rm", "-f", ...ids.slice(i, i + 50)).catch(() => {});
    }
  }
}

if (import.meta.main) await main();
