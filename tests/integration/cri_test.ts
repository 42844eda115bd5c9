// The CRI adaptor against every CRI runtime of the rig: containerd 1.7
// (GetContainerEvents), containerd 1.6 (UNIMPLEMENTED: the adaptor falls back
// to relisting), forced relisting, and a restart mid-watch.

import { assert, assertEquals, assertRejects } from "../_assert.ts";
import {
  type EngineInstance,
  engineTest,
  startEngine,
  stopEngine,
  testsOf,
  uniq,
} from "../engines/rig.ts";
import {
  criAdapter,
  CriClient,
  type CriOptions,
  probeCri,
  watchCri,
} from "../../cri.ts";
import {
  engineRegistry,
  isProcesslessContainerError,
} from "../../engineclient/mod.ts";
import type { Watcher, WatcherEvent } from "../../watcher/mod.ts";
import { CriTestClient } from "../engines/cri_client.ts";
import { differences, viewOf } from "../engines/truth.ts";
import { EventRecorder, watchReady } from "./_recorder.ts";

const criTest = testsOf("cri", CriTestClient.of);

const brief = (events: WatcherEvent[]) =>
  events.map((e) => `${e.type} ${e.container.name}`);

/** Runs `fn` with a watcher of `engine` and a recorder subscribed before it started. */
async function withWatcher(
  engine: EngineInstance,
  options: CriOptions,
  fn: (watcher: Watcher, rec: EventRecorder) => Promise<void>,
): Promise<void> {
  await using watcher = watchCri(engine.socket, {
    engine: options,
    backoff: { initialMs: 50, maxMs: 500 },
  });
  await using rec = new EventRecorder(watcher);
  await using _watch = await watchReady(watcher);
  await fn(watcher, rec);
}

engineTest("cri", "registered, probed, identified", async (e, rig) => {
  assert(engineRegistry.has("cri"));
  assertEquals(criAdapter.processNames, ["containerd", "crio"]);
  assert(criAdapter.socketPaths!.includes("/var/run/crio/crio.sock"));
  const found = await probeCri(e.socket);
  assertEquals(found?.type, "cri");
  const short = e.version.replace(/[+~].*$/, "");
  assert(
    new RegExp(`^containerd ${short.replaceAll(".", "\\.")}\\S* v1$`).test(
      found!.version!,
    ),
    String(found!.version),
  );
  await assertRejects(
    () => probeCri(`${rig.dir}/no-such.sock`),
    (err: Error) => err.message.includes(`${rig.dir}/no-such.sock`),
  );
  // A unix socket that speaks HTTP/1, not gRPC: something else, not CRI.
  const path = `${rig.dir}/${uniq("cri-http")}.sock`;
  const server = Deno.serve(
    { path, onListen: () => {} },
    () => new Response("no"),
  );
  try {
    assertEquals(await probeCri(path), null);
  } finally {
    await server.shutdown();
  }
  const engine = await engineRegistry.create("cri", e.socket, {
    pid: 77,
    hostId: "node-1",
  }) as CriClient;
  try {
    assertEquals(engine.type, "cri");
    assertEquals(engine.api, e.socket);
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
  const plain = new CriClient(e.socket, { type: "k8s.example" });
  try {
    assertEquals(plain.type, "k8s.example");
    assertEquals(await plain.id(), Deno.hostname());
  } finally {
    await plain.close();
  }
});

criTest(
  "pods and containers started before the watch appear after ready",
  async (cri, e) => {
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
    await withWatcher(e, {}, async (watcher) => {
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
      assert(sandbox.labels["io.kubernetes.pod.uid"].startsWith("uid-listed"));
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
        differences(viewOf(portfolio.containers()), await cri.truth()),
        [],
      );
    });
  },
);

/** Starts and stops containers and sandboxes, checking each event. */
async function lifecycleScenario(
  cri: CriTestClient,
  watcher: Watcher,
  rec: EventRecorder,
): Promise<void> {
  const mine = new Set<string>();
  const got = () => rec.events.filter((e) => mine.has(e.id));
  const expect = (n: number) =>
    rec.until(() => got().length >= n, `${n} events of ${[...mine]}`);
  // A second pod for the marker that proves no more events come.
  const markers = await cri.runPod("markers");

  const pod = await cri.runPod("events");
  mine.add(pod);
  await expect(1);
  const a = await cri.createContainer(pod, "a");
  mine.add(a);
  await cri.startContainer(a);
  await expect(2);
  assertEquals(got()[1].container.pid, await cri.containerPid(a));
  const b = await cri.runContainer(pod, "b");
  mine.add(b);
  await expect(3);
  await cri.stopContainer(a);
  await expect(4);
  assertEquals(brief(got()), [
    "started events",
    "started a",
    "started b",
    "exited a",
  ]);
  assertEquals(got()[0].container.labels["whalewatcher/sandbox"], "true");
  assertEquals(got()[0].container.pid, await cri.podPid(pod));
  assert(watcher.portfolio.container(b));
  assertEquals(watcher.portfolio.container(a), undefined);
  // Stopping the pod stops its sandbox and its remaining container.
  await cri.stopPod(pod);
  await expect(6);
  assertEquals(
    new Set(brief(got().slice(4))),
    new Set(["exited events", "exited b"]),
  );
  await rec.settle(cri.marker(markers));
  assertEquals(got().length, 6);
  for (const id of mine) {
    assertEquals(watcher.portfolio.container(id), undefined);
  }
}

criTest(
  "lifecycle events through GetContainerEvents, or relisting where it is UNIMPLEMENTED",
  async (cri, e) => {
    await withWatcher(e, { relistIntervalMs: 100 }, async (watcher, rec) => {
      await lifecycleScenario(cri, watcher, rec);
      const engine = watcher.engine as CriClient;
      assertEquals(engine.eventsSupported, e.events);
      assertEquals(engine.stats.relists > 0, !e.events);
    });
  },
);

criTest(
  "lifecycle events through forced relisting",
  async (cri, e) => {
    await withWatcher(
      e,
      { relist: true, relistIntervalMs: 100 },
      async (watcher, rec) => {
        await lifecycleScenario(cri, watcher, rec);
        const engine = watcher.engine as CriClient;
        assertEquals(engine.eventsSupported, undefined);
        assert(engine.stats.relists > 0);
      },
    );
  },
);

criTest(
  "containerd restarted mid-watch resyncs to the runtime's truth",
  async (cri, e) => {
    const pod = await cri.runPod("restart");
    const keep = await cri.runContainer(pod, "keep");
    const killed = await cri.runContainer(pod, "killed");
    const killedPid = await cri.containerPid(killed);
    await withWatcher(e, { relistIntervalMs: 100 }, async (watcher, rec) => {
      assert(watcher.portfolio.container(killed));
      const mine = new Set([pod, keep, killed]);
      // The initial synthetic starts.
      await rec.waitFor(mine, 3);
      const before = rec.events.length;
      const got = () => rec.events.slice(before).filter((x) => mine.has(x.id));

      await stopEngine(e);
      // While containerd is down, a container's process dies.
      Deno.kill(killedPid, "SIGKILL");
      await startEngine(e);
      const fresh = await cri.runContainer(pod, "fresh");
      mine.add(fresh);

      await rec.until(
        () =>
          got().some((x) => x.id === killed) &&
          got().some((x) => x.id === fresh),
        `the exit of ${killed} and the start of ${fresh}`,
      );
      await rec.settle(cri.marker(pod));
      assertEquals(
        new Set(brief(got())),
        new Set(["exited killed", "started fresh"]),
      );
      assertEquals(got().length, 2);
      assertEquals(
        differences(viewOf(watcher.portfolio.containers()), await cri.truth()),
        [],
      );
      assertEquals(
        watcher.portfolio.container(fresh)?.pid,
        await cri.containerPid(fresh),
      );
    });
  },
);
