// What a reconciliation pass costs on real engines with 200 unchanged
// containers: engine calls per pass with the adaptors' cheap listing
// (SummaryLister) against the full list() that engines without the
// capability get (as every engine did before it): Docker 1 call instead of
// 1 + N, CRI 2 instead of 2 + N, containerd one Tasks.List per namespace
// instead of Containers.List + Tasks.List (the container records carry
// every OCI spec). Docker's calls are counted on the wire by the tests'
// socket proxy; the gRPC engines' at their grpc-js client (a wire proxy
// would have to decode HTTP/2).
import type * as grpc from "@grpc/grpc-js";
import { assert, assertEquals } from "../_assert.ts";
import { DockerClient } from "../../docker.ts";
import { ContainerdClient } from "../../containerd.ts";
import { CriClient } from "../../cri.ts";
import {
  type CallOptions,
  type EngineClient,
  isPreflighter,
  isSummaryLister,
  type Preflighter,
} from "../../engineclient/mod.ts";
import { Watcher } from "../../watcher/mod.ts";
import { CriTestClient } from "../engines/cri_client.ts";
import { DockerCli } from "../engines/docker.ts";
import { SocketProxy } from "../engines/proxy.ts";
import {
  integrationTest,
  primary,
  type Rig,
  served,
  uniq,
  waitFor,
} from "../engines/rig.ts";
import { mapPool } from "../../engineclient/_async.ts";

const N = 200;
const PASSES = 3;

// The same engine client without the SummaryLister capability: what a
// third-party adaptor without it gets (and every engine got before it).
function fullListOnly(engine: EngineClient): EngineClient {
  const plain: EngineClient & Partial<Preflighter> = {
    type: engine.type,
    api: engine.api,
    pid: engine.pid,
    client: engine.client,
    list: (o) => engine.list(o),
    inspect: (id, o) => engine.inspect(id, o),
    lifecycleEvents: (o) => engine.lifecycleEvents(o),
    id: (o) => engine.id(o),
    version: (o) => engine.version(o),
    close: () => engine.close(),
  };
  if (isPreflighter(engine)) {
    plain.preflight = (o?: CallOptions) => engine.preflight(o);
  }
  return plain;
}

/** The calls an engine client made, in order. */
interface CallLog {
  readonly length: number;
  slice(from: number, to: number): string[];
}

/**
 * Watches `engine` with passes every 200 ms; returns the calls each of
 * `PASSES` passes made, as `log` records them (the engine's calls seen on
 * the wire or at the gRPC client), from the start of one pass to the
 * start of the next: nothing else calls the engine in between.
 */
async function callsPerPass(
  engine: EngineClient,
  log: CallLog,
  expectedSize: number,
): Promise<string[][]> {
  const starts: number[] = [];
  // A pass starts with the listing call (summaries, or the full list).
  const target = engine as unknown as Record<string, unknown>;
  const name = isSummaryLister(engine) ? "listSummaries" : "list";
  const original = target[name] as (o: unknown) => Promise<unknown>;
  target[name] = (o: unknown) => {
    starts.push(log.length);
    return original.call(engine, o);
  };
  await using watcher = new Watcher(engine, { reconcileIntervalMs: 200 });
  const watching = watcher.watch();
  await watcher.ready;
  assertEquals(watcher.portfolio.size, expectedSize);
  // The initial sync always uses list(): passes start after it.
  const first = starts.length;
  await waitFor(() => starts.length >= first + PASSES + 1, {
    timeoutMs: 60_000,
    what: `${PASSES + 1} reconciliation passes of ${engine.type}`,
  });
  const passes: string[][] = [];
  for (let i = first; i < first + PASSES; i++) {
    passes.push(log.slice(starts[i], starts[i + 1]));
  }
  assertEquals(watcher.stats.repairs, 0);
  await watcher.close();
  await watching;
  return passes;
}

// Counts what one grpc-js client sends (the method paths), at the client.
function countGrpc(engine: EngineClient): string[] {
  const calls: string[] = [];
  const client = engine.client as grpc.Client & Record<string, unknown>;
  for (const method of ["makeUnaryRequest", "makeServerStreamRequest"]) {
    const original = client[method] as (...a: unknown[]) => unknown;
    client[method] = (...args: unknown[]) => {
      calls.push(String(args[0]));
      return original.apply(client, args);
    };
  }
  return calls;
}

// How many calls of each kind a pass made (Docker container IDs elided).
function counts(pass: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const call of pass) {
    const key = call.replace(/\/containers\/[0-9a-f]{64}\//, "/containers/ID/");
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

const CTRD = "/containerd.services.";

integrationTest(
  `reconciliation cost: ${N} containers — Docker one call per pass instead of 1 + N, containerd no container records`,
  async (rig: Rig) => {
    const engine = primary("docker");
    await using cli = DockerCli.of(engine);
    await mapPool(
      Array.from({ length: N }, (_, i) => i),
      () => cli.run(),
      { concurrency: 8 },
    );
    const alive = (await cli.truth()).size;
    assert(alive >= N);
    // Every call of the watcher's client goes through the proxy.
    await using proxy = new SocketProxy(engine.socket, {
      path: `${rig.dir}/${uniq("cost")}.sock`,
    });
    const wire = {
      get length() {
        return proxy.requests.length;
      },
      slice: (from: number, to: number) =>
        proxy.requests.slice(from, to).map((r) =>
          `${r.method} ${r.path.split("?")[0]}`
        ),
    };
    const after = new DockerClient(proxy.address);
    for (const pass of await callsPerPass(after, wire, alive)) {
      assertEquals(counts(pass), { "GET /containers/json": 1 });
    }
    const before = fullListOnly(new DockerClient(proxy.address));
    for (const pass of await callsPerPass(before, wire, alive)) {
      assertEquals(counts(pass), {
        "GET /containers/json": 1,
        "GET /containers/ID/json": alive,
      });
    }

    // The same containers are containerd tasks in Docker's namespace.
    const socket = served("containerd", engine.containerd!).socket;
    const options = { ignoredNamespaces: ["k8s.io"] };
    const truth = new ContainerdClient(socket, options);
    const namespaces = (await truth.namespaces()).length;
    const tasks = (await truth.list()).length;
    await truth.close();
    assert(tasks >= N);
    const ctrd = new ContainerdClient(socket, options);
    for (const pass of await callsPerPass(ctrd, countGrpc(ctrd), tasks)) {
      assertEquals(counts(pass), {
        [`${CTRD}namespaces.v1.Namespaces/List`]: 1,
        [`${CTRD}tasks.v1.Tasks/List`]: namespaces,
      });
    }
    const ctrdBefore = new ContainerdClient(socket, options);
    const ctrdLog = countGrpc(ctrdBefore);
    for (
      const pass of await callsPerPass(fullListOnly(ctrdBefore), ctrdLog, tasks)
    ) {
      assertEquals(counts(pass), {
        [`${CTRD}namespaces.v1.Namespaces/List`]: 1,
        [`${CTRD}containers.v1.Containers/List`]: namespaces,
        [`${CTRD}tasks.v1.Tasks/List`]: namespaces,
      });
    }
  },
);

const PODS = 50;
const PER_POD = 3;
const CRI = "/runtime.v1.RuntimeService/";

integrationTest(
  `reconciliation cost: CRI, ${PODS} pods × ${PER_POD} containers — two calls per pass instead of 2 + N`,
  async () => {
    const engine = primary("cri");
    await using cri = CriTestClient.of(engine);
    await mapPool(Array.from({ length: PODS }, (_, i) => i), async (i) => {
      const pod = await cri.runPod(`cost-${i}`);
      for (let c = 0; c < PER_POD; c++) await cri.runContainer(pod, `c${c}`);
    }, { concurrency: 4 });
    const alive = (await cri.alive()).size;
    assert(alive >= PODS * (PER_POD + 1));

    const after = new CriClient(engine.socket);
    const afterLog = countGrpc(after);
    for (const pass of await callsPerPass(after, afterLog, alive)) {
      assertEquals(counts(pass), {
        [`${CRI}ListPodSandbox`]: 1,
        [`${CRI}ListContainers`]: 1,
      });
    }
    const before = new CriClient(engine.socket);
    const beforeLog = countGrpc(before);
    for (
      const pass of await callsPerPass(fullListOnly(before), beforeLog, alive)
    ) {
      assertEquals(counts(pass), {
        [`${CRI}ListPodSandbox`]: 1,
        [`${CRI}ListContainers`]: 1,
        [`${CRI}ContainerStatus`]: alive - PODS,
        [`${CRI}PodSandboxStatus`]: PODS,
      });
    }
  },
);
