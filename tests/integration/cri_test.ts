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
} from "../../cri.ts";
import {
  type Container,
  engineRegistry,
  isProcesslessContainerError,
} from "../../engineclient/mod.ts";
import type { Watcher, WatcherEvent } from "../../watcher/mod.ts";
import { CriTestClient } from "../engines/cri_client.ts";

function testCri(rig: Rig, socket = rig.containerdSocket): CriTestClient {
  return new CriTestClient(socket, {
    image: rig.ctrImage,
    logDir: `${rig.dir}/cri-logs`,
  });
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
      const running = await cri.runContainer(pod, "app", {
        labels: { role: "main" },
      });
      const stopped = await cri.runContainer(pod, "gone");
      await cri.stopContainer(stopped);
      const created = await cri.createContainer(pod, "idle");
      await withWatcher(rig.containerdSocket, {}, async (watcher) => {
        const portfolio = watcher.portfolio;
        const sandbox = portfolio.container(pod);
        const app = portfolio.container(running);
        assert(sandbox && app, "sandbox and running container listed");
        assertEquals(portfolio.container(stopped), undefined);
        assertEquals(portfolio.container(created), undefined);
        assertEquals(sandbox.pid, await cri.podPid(pod));
        assertEquals(app.pid, await cri.containerPid(running));
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
  cri: CriTestClient,
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
  const a = await cri.createContainer(pod, "a");
  mine.add(a);
  await cri.startContainer(a);
  await expect(2);
  assertEquals(got[1].container.pid, await cri.containerPid(a));
  const b = await cri.runContainer(pod, "b");
  mine.add(b);
  await expect(3);
  await cri.stopContainer(a);
  await expect(4);
  assertEquals(brief(got), [
    "started events",
    "started a",
    "started b",
    "exited a",
  ]);
  assertEquals(got[0].container.labels["whalewatcher/sandbox"], "true");
  assertEquals(got[0].container.pid, await cri.podPid(pod));
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
      const keep = await cri.runContainer(pod, "keep");
      const killed = await cri.runContainer(pod, "killed");
      const killedPid = await cri.containerPid(killed);
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
        const fresh = await cri.runContainer(pod, "fresh");
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
          await cri.containerPid(fresh),
        );
      });
    } finally {
      await cri.close();
    }
  },
);
