// The CRI adaptor against a real CRI runtime: the rig's containerd 1.7
// (GetContainerEvents), the relisting fallback (forced, and automatic on
// bookworm's containerd 1.6), and a containerd restart mid-watch.

import { assert, assertEquals, assertRejects } from "../_assert.ts";
import {
  ctr,
  integrationTest,
  type Rig,
  startEngine,
  stopEngine,
} from "../engines/rig.ts";
import { hasContainerd16, startContainerd16 } from "../engines/containerd16.ts";
import {
  criAdapter,
  CriClient,
  type CriOptions,
  probeCri,
  watchCri,
} from "../../adapters/cri/mod.ts";
import {
  type Container,
  engineRegistry,
  isProcesslessContainerError,
} from "../../engineclient/mod.ts";
import type { Watcher, WatcherEvent } from "../../watcher/mod.ts";
import * as grpc from "@grpc/grpc-js";
import {
  isGrpcStatus,
  loadProtos,
  type Message,
  unaryCall,
} from "../../adapters/_grpc/mod.ts";
import { RUNTIME_V1_PROTO } from "../../protos/cri/_runtime_v1.ts";

// The calls that change state, for the tests only (the adaptor's proto has
// none of them): real package, method names and field numbers.
const TEST_PROTO = `syntax = "proto3";
package runtime.v1;
service RuntimeService {
  rpc RunPodSandbox(RunPodSandboxRequest) returns (RunPodSandboxResponse) {}
  rpc StopPodSandbox(PodSandboxId) returns (Empty) {}
  rpc RemovePodSandbox(PodSandboxId) returns (Empty) {}
  rpc CreateContainer(CreateContainerRequest) returns (CreateContainerResponse) {}
  rpc StartContainer(ContainerId) returns (Empty) {}
  rpc StopContainer(StopContainerRequest) returns (Empty) {}
  rpc RemoveContainer(ContainerId) returns (Empty) {}
}
message Empty {}
message PodSandboxId { string pod_sandbox_id = 1; }
message ContainerId { string container_id = 1; }
message StopContainerRequest { string container_id = 1; int64 timeout = 2; }
message PodSandboxMetadata { string name = 1; string uid = 2; string namespace = 3; uint32 attempt = 4; }
message NamespaceOption { int32 network = 1; int32 pid = 2; int32 ipc = 3; }
message LinuxSandboxSecurityContext { NamespaceOption namespace_options = 1; }
message LinuxPodSandboxConfig { LinuxSandboxSecurityContext security_context = 2; }
message PodSandboxConfig {
  PodSandboxMetadata metadata = 1; string log_directory = 3;
  map<string, string> labels = 6; map<string, string> annotations = 7;
  LinuxPodSandboxConfig linux = 8;
}
message RunPodSandboxRequest { PodSandboxConfig config = 1; }
message RunPodSandboxResponse { string pod_sandbox_id = 1; }
message ContainerMetadata { string name = 1; uint32 attempt = 2; }
message ImageSpec { string image = 1; }
message ContainerConfig {
  ContainerMetadata metadata = 1; ImageSpec image = 2;
  map<string, string> labels = 9; map<string, string> annotations = 10;
  string log_path = 11;
}
message CreateContainerRequest { string pod_sandbox_id = 1; ContainerConfig config = 2; PodSandboxConfig sandbox_config = 3; }
message CreateContainerResponse { string container_id = 1; }
`;

const SERVICE = "runtime.v1.RuntimeService";
const mutating = loadProtos({ "test.proto": TEST_PROTO });
const reading = loadProtos({ "runtime_v1.proto": RUNTIME_V1_PROTO });

/** A small CRI client for driving pods in tests; removes its pods on close. */
class TestCri {
  readonly client: grpc.Client;
  readonly #pods = new Map<string, Message>();
  readonly #image: string;
  readonly #logs: string;
  readonly #run = crypto.randomUUID().slice(0, 8);

  constructor(socket: string, image: string, logs: string) {
    this.client = new grpc.Client(
      `unix://${socket}`,
      grpc.credentials.createInsecure(),
    );
    this.#image = image;
    this.#logs = logs;
  }

  async call(method: string, request: Message): Promise<Message> {
    const set = method in (reading.definition[SERVICE] as object)
      ? reading
      : mutating;
    // After an engine restart the channel reconnects with a backoff:
    // calls that found no connection were never sent and are retried.
    const deadline = performance.now() + 10_000;
    while (true) {
      try {
        return await unaryCall(
          this.client,
          set.method(SERVICE, method),
          request,
        );
      } catch (err) {
        if (
          !isGrpcStatus(err, grpc.status.UNAVAILABLE) ||
          performance.now() > deadline
        ) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Runs a host-network pod; returns its sandbox ID. */
  async runPod(
    name: string,
    extra: {
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
    } = {},
  ): Promise<string> {
    const config = {
      metadata: { name, uid: `uid-${name}-${this.#run}`, namespace: "wwtest" },
      log_directory: `${this.#logs}/${name}-${this.#run}`,
      labels: extra.labels ?? {},
      annotations: extra.annotations ?? {},
      linux: {
        security_context: { namespace_options: { network: 2, pid: 1 } },
      },
    };
    const res = await this.call("RunPodSandbox", { config });
    this.#pods.set(res.pod_sandbox_id, config);
    return res.pod_sandbox_id;
  }

  /** Creates (and by default starts) a container in `pod`. */
  async container(
    pod: string,
    name: string,
    options: { start?: boolean; labels?: Record<string, string> } = {},
  ): Promise<string> {
    const res = await this.call("CreateContainer", {
      pod_sandbox_id: pod,
      config: {
        metadata: { name },
        image: { image: this.#image },
        labels: options.labels ?? {},
        annotations: { "test.container": name },
        log_path: `${name}.log`,
      },
      sandbox_config: this.#pods.get(pod),
    });
    if (options.start ?? true) {
      await this.call("StartContainer", { container_id: res.container_id });
    }
    return res.container_id;
  }

  start(id: string): Promise<Message> {
    return this.call("StartContainer", { container_id: id });
  }

  stop(id: string): Promise<Message> {
    return this.call("StopContainer", { container_id: id, timeout: 0 });
  }

  stopPod(id: string): Promise<Message> {
    return this.call("StopPodSandbox", { pod_sandbox_id: id });
  }

  /** The verbose-status PID of a container or sandbox. */
  async pid(id: string, sandbox = false): Promise<number> {
    const res = sandbox
      ? await this.call("PodSandboxStatus", {
        pod_sandbox_id: id,
        verbose: true,
      })
      : await this.call("ContainerStatus", { container_id: id, verbose: true });
    return JSON.parse(res.info.info).pid;
  }

  /** IDs of all running containers and ready sandboxes (the truth). */
  async alive(): Promise<Set<string>> {
    const pods = await this.call("ListPodSandbox", {});
    const ctrs = await this.call("ListContainers", {});
    const ids = new Set<string>();
    for (const p of pods.items) if (p.state === "SANDBOX_READY") ids.add(p.id);
    for (const c of ctrs.containers) {
      if (c.state === "CONTAINER_RUNNING") ids.add(c.id);
    }
    return ids;
  }

  /** Removes every pod this client made (with their containers). */
  async close(): Promise<void> {
    try {
      for (const id of this.#pods.keys()) {
        await this.call("StopPodSandbox", { pod_sandbox_id: id }).catch(
          () => {},
        );
        await this.call("RemovePodSandbox", { pod_sandbox_id: id }).catch(
          () => {},
        );
      }
    } finally {
      this.client.close();
    }
  }
}

function testCri(rig: Rig, socket = rig.containerdSocket): TestCri {
  return new TestCri(socket, rig.ctrImage, `${rig.dir}/cri-logs`);
}

/** Reads events until `predicate` holds for the collected ones. */
async function collect(
  events: AsyncIterator<WatcherEvent>,
  mine: Set<string>,
  into: WatcherEvent[],
  predicate: (got: WatcherEvent[]) => boolean,
): Promise<void> {
  while (!predicate(into)) {
    const next = await events.next();
    if (next.done) throw new Error("event stream ended");
    if (mine.has(next.value.id)) into.push(next.value);
  }
}

const brief = (events: WatcherEvent[]) =>
  events.map((e) => `${e.type} ${e.container.name}`);

async function withWatcher(
  socket: string,
  options: CriOptions,
  fn: (watcher: Watcher, events: AsyncIterator<WatcherEvent>) => Promise<void>,
): Promise<void> {
  const watcher = watchCri(socket, {
    engine: options,
    backoff: { initialMs: 50, maxMs: 500 },
  });
  const ac = new AbortController();
  const events = watcher.events({ signal: ac.signal })[Symbol.asyncIterator]();
  const watching = watcher.watch(ac.signal);
  try {
    await watcher.ready;
    await fn(watcher, events);
  } finally {
    ac.abort();
    await watching.catch(() => {});
    await events.return?.();
    await watcher.close();
  }
}

integrationTest("cri: registered, probed, identified", async (rig) => {
  assert(engineRegistry.has("cri"));
  assertEquals(criAdapter.processNames, ["containerd", "crio"]);
  assert(criAdapter.socketPaths!.includes("/var/run/crio/crio.sock"));
  const found = await probeCri(rig.containerdSocket);
  assertEquals(found?.type, "cri");
  assert(
    /^containerd 1\.7\.\S+ v1$/.test(found!.version!),
    String(found!.version),
  );
  await assertRejects(
    () => probeCri(`${rig.dir}/no-such.sock`),
    (err: Error) => err.message.includes(`${rig.dir}/no-such.sock`),
  );
  // A unix socket that speaks HTTP/1, not gRPC: something else, not CRI.
  const path = `${rig.dir}/cri-http-${crypto.randomUUID().slice(0, 8)}.sock`;
  const server = Deno.serve(
    { path, onListen: () => {} },
    () => new Response("no"),
  );
  try {
    assertEquals(await probeCri(path), null);
  } finally {
    await server.shutdown();
  }
  const engine = await engineRegistry.create("cri", rig.containerdSocket, {
    pid: 77,
    hostId: "node-1",
  }) as CriClient;
  try {
    assertEquals(engine.type, "cri");
    assertEquals(engine.api, rig.containerdSocket);
    assertEquals(engine.pid, 77);
    assertEquals(await engine.id(), "node-1");
    assertEquals(await engine.version(), found!.version);
    await assertRejects(
      () => engine.inspect("0123456789abcdef".repeat(4)),
      isProcesslessContainerError,
    );
  } finally {
    await engine.close();
    await engine.close();
  }
  const plain = new CriClient(rig.containerdSocket, { type: "k8s.example" });
  try {
    assertEquals(plain.type, "k8s.example");
    assertEquals(await plain.id(), Deno.hostname());
  } finally {
    await plain.close();
  }
});

integrationTest(
  "cri: pods and containers started before the watch appear after ready",
  async (rig) => {
    const cri = testCri(rig);
    try {
      const pod = await cri.runPod("listed", {
        labels: { tier: "web" },
        annotations: { note: "hello" },
      });
      const running = await cri.container(pod, "app", {
        labels: { role: "main" },
      });
      const stopped = await cri.container(pod, "gone");
      await cri.stop(stopped);
      const created = await cri.container(pod, "idle", { start: false });
      await withWatcher(rig.containerdSocket, {}, async (watcher) => {
        const portfolio = watcher.portfolio;
        const sandbox = portfolio.container(pod);
        const app = portfolio.container(running);
        assert(sandbox && app, "sandbox and running container listed");
        assertEquals(portfolio.container(stopped), undefined);
        assertEquals(portfolio.container(created), undefined);
        assertEquals(sandbox.pid, await cri.pid(pod, true));
        assertEquals(app.pid, await cri.pid(running));
        // The PIDs are the containers' own processes.
        for (const c of [sandbox, app]) {
          const cmdline = await Deno.readTextFile(`/proc/${c.pid}/cmdline`);
          assertEquals(cmdline.split("\0")[0], "/bin/sleep");
        }
        assertEquals(sandbox.name, "listed");
        assertEquals(app.name, "app");
        assertEquals(sandbox.project, "");
        assertEquals(app.paused, false);
        const podKeys = {
          "io.kubernetes.pod.name": "listed",
          "io.kubernetes.pod.namespace": "wwtest",
          "io.kubernetes.pod.uid": sandbox.labels["io.kubernetes.pod.uid"],
        };
        assert(
          sandbox.labels["io.kubernetes.pod.uid"].startsWith("uid-listed"),
        );
        assertEquals({ ...sandbox.labels }, {
          tier: "web",
          "annotation.note": "hello",
          ...podKeys,
          "io.kubernetes.container.name": "POD",
          "whalewatcher/sandbox": "true",
        });
        assertEquals({ ...app.labels }, {
          role: "main",
          "annotation.test.container": "app",
          ...podKeys,
          "io.kubernetes.container.name": "app",
          "whalewatcher/sandbox-id": pod,
        });
        // The same through inspect, for containers and sandboxes.
        const engine = watcher.engine;
        assertEquals((await engine.inspect(running)).labels, app.labels);
        assertEquals((await engine.inspect(pod)).pid, sandbox.pid);
        await assertRejects(
          () => engine.inspect(created),
          isProcesslessContainerError,
        );
        await assertRejects(
          () => engine.inspect(stopped),
          isProcesslessContainerError,
        );
        // Everything alive in the runtime, nothing else.
        assertEquals(
          new Set(portfolio.containers().map((c: Container) => c.id)),
          await cri.alive(),
        );
      });
    } finally {
      await cri.close();
    }
  },
);

/** Starts and stops containers and sandboxes, checking each event. */
async function lifecycleScenario(
  cri: TestCri,
  watcher: Watcher,
  events: AsyncIterator<WatcherEvent>,
): Promise<void> {
  const mine = new Set<string>();
  const got: WatcherEvent[] = [];
  const expect = async (n: number) =>
    await collect(events, mine, got, (g) => g.length >= n);

  const pod = await cri.runPod("events");
  mine.add(pod);
  await expect(1);
  const a = await cri.container(pod, "a", { start: false });
  mine.add(a);
  await cri.start(a);
  await expect(2);
  assertEquals(got[1].container.pid, await cri.pid(a));
  const b = await cri.container(pod, "b");
  mine.add(b);
  await expect(3);
  await cri.stop(a);
  await expect(4);
  assertEquals(brief(got), [
    "started events",
    "started a",
    "started b",
    "exited a",
  ]);
  assertEquals(got[0].container.labels["whalewatcher/sandbox"], "true");
  assertEquals(got[0].container.pid, await cri.pid(pod, true));
  assert(watcher.portfolio.container(b));
  assertEquals(watcher.portfolio.container(a), undefined);
  // Stopping the pod stops its sandbox and its remaining container.
  await cri.stopPod(pod);
  await expect(6);
  assertEquals(
    new Set(brief(got.slice(4))),
    new Set(["exited events", "exited b"]),
  );
  assertEquals(got.length, 6);
  for (const id of mine) {
    assertEquals(watcher.portfolio.container(id), undefined);
  }
}

integrationTest(
  "cri: lifecycle events through GetContainerEvents",
  async (rig) => {
    const cri = testCri(rig);
    try {
      await withWatcher(rig.containerdSocket, {}, async (watcher, events) => {
        await lifecycleScenario(cri, watcher, events);
        const engine = watcher.engine as CriClient;
        assertEquals(engine.eventsSupported, true);
        assertEquals(engine.stats.relists, 0);
      });
    } finally {
      await cri.close();
    }
  },
);

integrationTest(
  "cri: lifecycle events through forced relisting",
  async (rig) => {
    const cri = testCri(rig);
    try {
      await withWatcher(
        rig.containerdSocket,
        { relist: true, relistIntervalMs: 100 },
        async (watcher, events) => {
          await lifecycleScenario(cri, watcher, events);
          const engine = watcher.engine as CriClient;
          assertEquals(engine.eventsSupported, undefined);
          assert(engine.stats.relists > 0);
        },
      );
    } finally {
      await cri.close();
    }
  },
);

integrationTest(
  "cri: containerd 1.6 (no GetContainerEvents) falls back to relisting",
  async (rig) => {
    if (!hasContainerd16()) {
      throw new Error("bookworm's containerd 1.6 is not installed");
    }
    const tar = `${rig.dir}/cri16-image-${Deno.pid}.tar`;
    await ctr("-n", "k8s.io", "image", "export", tar, rig.ctrImage);
    await using ctrd16 = await startContainerd16(tar, rig.ctrImage);
    await Deno.remove(tar);
    const found = await probeCri(ctrd16.socket);
    assert(
      found?.version?.startsWith("containerd 1.6."),
      String(found?.version),
    );
    const cri = testCri(rig, ctrd16.socket);
    try {
      await withWatcher(
        ctrd16.socket,
        { relistIntervalMs: 100 },
        async (watcher, events) => {
          await lifecycleScenario(cri, watcher, events);
          assertEquals((watcher.engine as CriClient).eventsSupported, false);
        },
      );
    } finally {
      await cri.close();
    }
  },
);

integrationTest(
  "cri: containerd restarted mid-watch resyncs to the runtime's truth",
  async (rig) => {
    const cri = testCri(rig);
    try {
      const pod = await cri.runPod("restart");
      const keep = await cri.container(pod, "keep");
      const killed = await cri.container(pod, "killed");
      const killedPid = await cri.pid(killed);
      await withWatcher(rig.containerdSocket, {}, async (watcher, events) => {
        assert(watcher.portfolio.container(killed));
        const mine = new Set([pod, keep, killed]);
        const got: WatcherEvent[] = [];
        // Skip the initial synthetic starts.
        await collect(events, mine, got, (g) => g.length >= 3);
        got.length = 0;

        await stopEngine("containerd");
        // While containerd is down, a container's process dies.
        Deno.kill(killedPid, "SIGKILL");
        await startEngine("containerd");
        const fresh = await cri.container(pod, "fresh");
        mine.add(fresh);

        const truth = () => cri.alive();
        await collect(
          events,
          mine,
          got,
          (g) =>
            g.some((e) => e.id === killed) && g.some((e) => e.id === fresh),
        );
        assertEquals(
          new Set(brief(got)),
          new Set(["exited killed", "started fresh"]),
        );
        assertEquals(got.length, 2);
        assertEquals(
          new Set(watcher.portfolio.containers().map((c: Container) => c.id)),
          await truth(),
        );
        assertEquals(
          watcher.portfolio.container(fresh)?.pid,
          await cri.pid(fresh),
        );
      });
    } finally {
      await cri.close();
    }
  },
);
