// CRI adaptor benchmark on the rig's containerd 1.7: 50 pods of 3 containers.
// Figures: time from watch() to ready and the CRI calls made, against the
// reference design's approach (one pod-sandbox list per container plus one
// status per container). Run: deno bench -A tests/bench/cri_bench.ts
// (with the rig up, e.g. through tests/engines/with_engines.sh).

import type * as grpc from "@grpc/grpc-js";
import {
  loadProtos,
  type Message,
  unaryCall,
} from "../../adapters/_grpc/mod.ts";
import { RUNTIME_V1_PROTO } from "../../protos/cri/_runtime_v1.ts";
import { type CriClient, watchCri } from "../../cri.ts";
import { primary, rig } from "../engines/rig.ts";
import { CriTestClient } from "../engines/cri_client.ts";

const PODS = 50;
const PER_POD = 3;
const ROUNDS = 5;
const SERVICE = "runtime.v1.RuntimeService";

const reading = loadProtos({ "runtime_v1.proto": RUNTIME_V1_PROTO });

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** The reference approach: per container a pod list and a verbose status. */
async function reference(client: grpc.Client): Promise<number> {
  let calls = 1;
  const listed = await unaryCall(
    client,
    reading.method(SERVICE, "ListContainers"),
    { filter: { state: { state: "CONTAINER_RUNNING" } } },
  );
  for (const c of listed.containers as Message[]) {
    calls += 2;
    const pods = await unaryCall(
      client,
      reading.method(SERVICE, "ListPodSandbox"),
      {},
    );
    (pods.items as Message[]).find((p) => p.id === c.pod_sandbox_id);
    const status = await unaryCall(
      client,
      reading.method(SERVICE, "ContainerStatus"),
      { container_id: c.id, verbose: true },
    );
    JSON.parse(status.info.info).pid;
  }
  return calls;
}

const found = rig();
if (!found) {
  console.error("cri bench skipped: the rig's engines are not up");
} else {
  Deno.bench({
    name: `cri: watch() to ready, ${PODS} pods x ${PER_POD} containers`,
    n: 1,
    warmup: 0,
    async fn(b) {
      const cri = CriTestClient.of(primary("cri"));
      const client = cri.client;
      try {
        const setup = performance.now();
        for (let p = 0; p < PODS; p++) {
          const pod = await cri.runPod(`bench-${p}`, { namespace: "bench" });
          await Promise.all(
            Array.from(
              { length: PER_POD },
              (_, i) => cri.runContainer(pod, `c${i}`),
            ),
          );
        }
        console.log(
          `setup: ${PODS} pods, ${PODS * PER_POD} containers in ${
            ((performance.now() - setup) / 1000).toFixed(1)
          } s`,
        );

        const times: number[] = [];
        let calls = 0, size = 0;
        b.start();
        for (let round = 0; round < ROUNDS; round++) {
          const watcher = watchCri(found.containerdSocket);
          const ac = new AbortController();
          const t0 = performance.now();
          const watching = watcher.watch(ac.signal);
          await watcher.ready;
          times.push(performance.now() - t0);
          calls = (watcher.engine as CriClient).stats.calls;
          size = watcher.portfolio.size;
          ac.abort();
          await watching.catch(() => {});
          await watcher.close();
        }
        b.end();
        const refTimes: number[] = [];
        let refCalls = 0;
        for (let round = 0; round < ROUNDS; round++) {
          const t0 = performance.now();
          refCalls = await reference(client);
          refTimes.push(performance.now() - t0);
        }
        console.log(
          `whalewatcher cri: ready in ${
            median(times).toFixed(1)
          } ms (median of ${ROUNDS}), ` +
            `${calls} CRI calls, ${size} containers incl. sandboxes`,
        );
        console.log(
          `reference (pod list + status per container, sequential): ${
            median(refTimes).toFixed(1)
          } ms, ${refCalls} CRI calls, containers only`,
        );
      } finally {
        await cri.close(); // removes the pods
      }
    },
  });
}
