// Benchmark: time from watch() to ready with many running tasks, against
// the floor of the same namespace, container and task list calls made bare
// with grpc-js in the same run. Needs the rig (`deno task bench` under
// tests/engines/with_engines.sh); WW_BENCH_TASKS sets the task count
// (default 200). Prints the figures and the ratio (target ≤ 1.1).

import * as grpc from "@grpc/grpc-js";
import { rig } from "../engines/rig.ts";
import { primaryCtr } from "../engines/containerd.ts";
import { watchContainerd } from "../../containerd.ts";
import { loadProtos, unaryCall } from "../../adapters/_grpc/mod.ts";
import { CONTAINERD_PROTOS } from "../../protos/containerd/_protos.ts";

const r = rig();
const TASKS = Number(Deno.env.get("WW_BENCH_TASKS") ?? 200);
const protos = loadProtos(CONTAINERD_PROTOS);

function md(ns: string): grpc.Metadata {
  const m = new grpc.Metadata();
  m.set("containerd-namespace", ns);
  return m;
}

/** The floor: the same list calls, bare, on a fresh channel. */
async function bareList(socket: string): Promise<number> {
  const client = new grpc.Client(
    `unix://${socket}`,
    grpc.credentials.createInsecure(),
    { "grpc.max_receive_message_length": 256 * 1024 * 1024 },
  );
  try {
    const nss = await unaryCall(
      client,
      protos.method("containerd.services.namespaces.v1.Namespaces", "List"),
      {},
    );
    let n = 0;
    await Promise.all(
      (nss.namespaces as { name: string }[])
        .filter((ns) => ns.name !== "moby" && ns.name !== "k8s.io")
        .map(async (ns) => {
          const [, tasks] = await Promise.all([
            unaryCall(
              client,
              protos.method(
                "containerd.services.containers.v1.Containers",
                "List",
              ),
              {},
              { metadata: md(ns.name) },
            ),
            unaryCall(
              client,
              protos.method("containerd.services.tasks.v1.Tasks", "List"),
              {},
              { metadata: md(ns.name) },
            ),
          ]);
          n += (tasks.tasks as unknown[]).length;
        }),
    );
    return n;
  } finally {
    client.close();
  }
}

async function watchReady(socket: string): Promise<number> {
  const watcher = watchContainerd(socket);
  const ac = new AbortController();
  const watching = watcher.watch(ac.signal);
  await watcher.ready;
  const n = watcher.portfolio.size;
  ac.abort();
  await watching;
  await watcher.close();
  return n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

if (!r) {
  console.log("containerd bench: skipped, no rig (run under with_engines.sh)");
} else {
  const socket = r.containerdSocket;
  const ctr = primaryCtr();
  const ns = await ctr.namespace("bench");
  const ids = Array.from({ length: TASKS }, (_, i) => `bench-${i}`);
  const t0 = performance.now();
  for (let i = 0; i < ids.length; i += 10) {
    await Promise.all(ids.slice(i, i + 10).map((id) => ctr.run(ns, id)));
  }
  console.log(
    `containerd bench: started ${TASKS} tasks in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s`,
  );
  try {
    await bareList(socket); // warm-up both paths
    await watchReady(socket);
    const floor: number[] = [], ready: number[] = [];
    for (let i = 0; i < 15; i++) {
      let t = performance.now();
      const n1 = await bareList(socket);
      floor.push(performance.now() - t);
      t = performance.now();
      const n2 = await watchReady(socket);
      ready.push(performance.now() - t);
      if (n1 < TASKS || n2 < TASKS) {
        throw new Error(`listed ${n1}/${n2} < ${TASKS}`);
      }
    }
    const f = median(floor), w = median(ready);
    console.log(
      `containerd bench: ${TASKS} tasks: floor (bare list calls) ${
        f.toFixed(1)
      } ms, watch()→ready ${w.toFixed(1)} ms, ratio ${
        (w / f).toFixed(2)
      } (target ≤ 1.1)`,
    );
    Deno.bench("containerd floor: bare list calls", {
      group: "containerd-ready",
      baseline: true,
    }, async () => {
      await bareList(socket);
    });
    Deno.bench("containerd watch() → ready", {
      group: "containerd-ready",
    }, async () => {
      await watchReady(socket);
    });
  } catch (err) {
    console.error(err);
  } finally {
    // Cleaned up after the benches ran.
    addEventListener("unload", () => {
      for (const id of ids) {
        for (
          const args of [["task", "rm", "-f", id], ["container", "rm", id]]
        ) {
          new Deno.Command(ctr.engine.ctr!, {
            args: ["--address", socket, "-n", ns, ...args],
          }).outputSync();
        }
      }
    });
  }
}
