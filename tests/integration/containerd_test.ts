// The containerd adaptor against every containerd of the rig: lists,
// identities, ignored namespaces, events, exec exits and a restart.

import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { startEngine, stopEngine, testsOf, uniq } from "../engines/rig.ts";
import { Ctr } from "../engines/containerd.ts";
import { differences, viewOf } from "../engines/truth.ts";
import {
  containerdAdapter,
  ContainerdClient,
  watchContainerd,
} from "../../containerd.ts";
import {
  engineRegistry,
  isProcesslessContainerError,
  PROJECT_UNKNOWN,
} from "../../engineclient/mod.ts";
import * as grpc from "@grpc/grpc-js";
import { loadProtos, unaryCall } from "../../adapters/_grpc/mod.ts";
import { CONTAINERD_PROTOS } from "../../protos/containerd/_protos.ts";
import { EventRecorder, watchReady } from "./_recorder.ts";

const containerdTest = testsOf("containerd", (e) => new Ctr(e));

/** Publishes an event with an arbitrary payload, as a broken publisher would. */
async function publishRaw(
  engine: ContainerdClient,
  ns: string,
  topic: string,
  typeUrl: string,
  bytes: number[],
): Promise<void> {
  const method = loadProtos(CONTAINERD_PROTOS).method(
    "containerd.services.events.v1.Events",
    "Publish",
  );
  const metadata = new grpc.Metadata();
  metadata.set("containerd-namespace", ns);
  await unaryCall(engine.client as grpc.Client, method, {
    topic,
    event: { type_url: typeUrl, value: new Uint8Array(bytes) },
  }, { metadata });
}

// One custom namespace per containerd for the whole file (named after the
// rig), with the test image imported once.
const custom = new Map<string, Promise<string>>();
function customNamespace(ctr: Ctr): Promise<string> {
  const key = ctr.engine.socket;
  if (!custom.has(key)) custom.set(key, ctr.namespace("test"));
  return custom.get(key)!;
}

containerdTest("registered, probed, identified", async (ctr, e, rig) => {
  assert(engineRegistry.has("containerd.io"));
  assertEquals(engineRegistry.get("containerd.io"), containerdAdapter);
  const found = await containerdAdapter.probe!(e.socket, {
    signal: AbortSignal.timeout(5000),
  });
  assertEquals(found?.type, "containerd.io");
  assert(found?.version?.includes(e.version.replace(/[+~].*$/, "")));
  await assertRejects(
    containerdAdapter.probe!(`${rig.dir}/no-such.sock`, {
      signal: AbortSignal.timeout(5000),
    }),
  );
  const engine = await engineRegistry.create("containerd.io", e.socket, {
    pid: 4242,
  }) as ContainerdClient;
  try {
    assertEquals(engine.type, "containerd.io");
    assertEquals(engine.api, e.socket);
    assertEquals(engine.pid, 4242);
    assert(engine.client);
    // "version revision" of the server, as `ctr version` shows them (a
    // build without a revision, like Debian sid's 2.1.9+unknown, has only
    // its version).
    const server = (await ctr.ctr("version")).split("Server:")[1] ?? "";
    const field = (name: string) =>
      new RegExp(`${name}:[ \\t]*(\\S*)`).exec(server)?.[1] ?? "";
    assertEquals(
      await engine.version(),
      `${field("Version")} ${field("Revision")}`.trim(),
    );
    assert(field("Version").startsWith(e.version), field("Version"));
    const id = await engine.id();
    assert(/^[0-9a-f-]{36}$/.test(id), id);
    assertEquals(await engine.id(), id);
  } finally {
    await engine.close();
    await engine.close(); // harmless twice
  }
  const renamed = new ContainerdClient(e.socket, { type: "example.io" });
  assertEquals(renamed.type, "example.io");
  await renamed.close();
});

containerdTest("lists tasks with identities", async (ctr, e, rig) => {
  const ns = await customNamespace(ctr);
  const a = uniq("a"), b = uniq("b"), c = uniq("c");
  const noTask = uniq("notask"), stopped = uniq("stopped");
  const engine = new ContainerdClient(e.socket);
  try {
    await ctr.run("default", a, {
      labels: { "nerdctl/name": "web", "com.docker.compose.project": "shop" },
    });
    await ctr.run(ns, b, { labels: { "nerdctl/name": "db", team: "x" } });
    await ctr.run(ns, c);
    await ctr.ctr("-n", ns, "container", "create", rig.ctrImage, noTask);
    await ctr.run(ns, stopped);
    await ctr.ctr("-n", ns, "task", "kill", "-s", "SIGKILL", stopped);
    await ctr.waitStatus(ns, stopped, "STOPPED");
    await ctr.ctr("-n", ns, "task", "pause", c);

    const list = await engine.list();
    const byId = new Map(list.map((x) => [x.id, x]));
    const dflt = await ctr.tasks("default"), tasks = await ctr.tasks(ns);

    const ca = byId.get(a)!;
    assertEquals(ca.name, "web");
    assertEquals(ca.project, "shop");
    assertEquals(ca.pid, dflt.get(a)!.pid);
    assertEquals(ca.labels["com.docker.compose.project"], "shop");
    assertEquals(ca.paused, false);

    const cb = byId.get(`${ns}/${b}`)!;
    assertEquals(cb.name, `${ns}/db`);
    assertEquals(cb.project, "");
    assertEquals(cb.labels.team, "x");
    assertEquals(cb.pid, tasks.get(b)!.pid);

    const cc = byId.get(`${ns}/${c}`)!;
    assertEquals(cc.name, `${ns}/${c}`);
    assertEquals(cc.paused, true);
    assertEquals(cc.pid, tasks.get(c)!.pid);

    assert(!byId.has(`${ns}/${noTask}`), "container without task listed");
    assert(!byId.has(`${ns}/${stopped}`), "stopped task listed");

    // inspect takes display IDs.
    assertEquals(await engine.inspect(`${ns}/${b}`), cb);
    assertEquals(await engine.inspect(a), ca);
    for (const id of [`${ns}/${noTask}`, `${ns}/${stopped}`, `${ns}/nope`]) {
      const err = await engine.inspect(id).catch((e) => e);
      assert(isProcesslessContainerError(err), `${id}: ${err}`);
    }
  } finally {
    await engine.close();
    await ctr.remove(ns, noTask);
  }
});

containerdTest(
  "moby and k8s.io ignored by default",
  async (ctr, e) => {
    const inMoby = uniq("moby"), inK8s = uniq("k8s");
    const dflt = new ContainerdClient(e.socket);
    const all = new ContainerdClient(e.socket, { ignoredNamespaces: [] });
    try {
      await ctr.importImage("moby");
      await ctr.run("moby", inMoby);
      await ctr.run("k8s.io", inK8s);
      const hidden = new Set((await dflt.list()).map((c) => c.id));
      assert(!hidden.has(`moby/${inMoby}`));
      assert(!hidden.has(`k8s.io/${inK8s}`));
      assert(!(await dflt.namespaces()).includes("moby"));
      const shown = new Set((await all.list()).map((c) => c.id));
      assert(shown.has(`moby/${inMoby}`), `moby/${inMoby} not listed`);
      assert(shown.has(`k8s.io/${inK8s}`));
    } finally {
      await dflt.close();
      await all.close();
    }
  },
);

containerdTest("lifecycle events and portfolio", async (ctr, e) => {
  const ns = await customNamespace(ctr);
  const id = uniq("ev");
  const display = `${ns}/${id}`;
  await using watcher = watchContainerd(e.socket, { backoff: false });
  await using rec = new EventRecorder(watcher);
  await using _watch = await watchReady(watcher);
  const mine = () => rec.events.filter((x) => x.id === display);
  await ctr.run(ns, id, { labels: { "nerdctl/name": "evn" } });
  await rec.waitFor([display], 1);
  assertEquals(mine().map((x) => x.type), ["started"]);
  const started = watcher.portfolio.container(display)!;
  assertEquals(started.pid, (await ctr.tasks(ns)).get(id)!.pid);
  assertEquals(watcher.portfolio.container(`${ns}/evn`), started);

  await ctr.ctr("-n", ns, "task", "pause", id);
  await rec.waitFor([display], 2);
  assertEquals(mine()[1].type, "paused");
  assertEquals(watcher.portfolio.container(display)!.paused, true);

  await ctr.ctr("-n", ns, "task", "resume", id);
  await rec.waitFor([display], 3);
  assertEquals(mine()[2].type, "unpaused");
  assertEquals(watcher.portfolio.container(display)!.paused, false);

  // An exec'd process that exits is not the container's exit: the pause
  // after it (events are delivered in order) comes next.
  await ctr.ctr("-n", ns, "task", "exec", "--exec-id", uniq("x"), id, "true");
  await ctr.ctr("-n", ns, "task", "pause", id);
  await rec.waitFor([display], 4);
  assertEquals(mine()[3].type, "paused");
  assert(watcher.portfolio.container(display)?.paused);
  await ctr.ctr("-n", ns, "task", "kill", "-s", "SIGKILL", id);
  await ctr.ctr("-n", ns, "task", "resume", id).catch(() => {});
  await rec.until(
    () => mine().some((x) => x.type === "exited"),
    `exit of ${display}`,
  );
  const types = mine().map((x) => x.type);
  assertEquals(types.slice(0, 4), [
    "started",
    "paused",
    "unpaused",
    "paused",
  ]);
  assertEquals(types.at(-1), "exited");
  assertEquals(types.filter((t) => t === "exited").length, 1);
  assertEquals(watcher.portfolio.container(display), undefined);
  const afterExit = mine().length;

  // Deleting the stopped task and container yields nothing more; a new
  // start of the same ID yields one started.
  await ctr.ctr("-n", ns, "task", "rm", id);
  await ctr.ctr("-n", ns, "container", "rm", id);
  await ctr.run(ns, id);
  await rec.waitFor([display], afterExit + 1);
  assertEquals(mine().slice(afterExit).map((x) => x.type), ["started"]);
  assert(watcher.portfolio.container(display));
  await ctr.remove(ns, id);
  await rec.waitFor([display], afterExit + 2);
  await rec.settle(ctr.marker(ns));
  assertEquals(mine().slice(afterExit).map((x) => x.type), [
    "started",
    "exited",
  ]);
  assertEquals(watcher.portfolio.container(display), undefined);
});

containerdTest(
  "raw events, undecodable skipped, abort",
  async (ctr, e) => {
    const ns = await customNamespace(ctr);
    const id = uniq("raw");
    const engine = new ContainerdClient(e.socket);
    const ac = new AbortController();
    try {
      const events = await engine.lifecycleEvents({ signal: ac.signal });
      const it = events[Symbol.asyncIterator]();
      // A task start event whose payload is garbage (published by hand).
      await publishRaw(
        engine,
        ns,
        "/tasks/start",
        "containerd.events.TaskStart",
        [0xff, 0xff, 0xff],
      );
      await ctr.run(ns, id);
      const first = await it.next();
      assertEquals(first.value?.type, "started");
      assertEquals(first.value?.id, `${ns}/${id}`);
      assertEquals(first.value?.project, PROJECT_UNKNOWN);
      assert(Math.abs(first.value!.timestamp - Date.now()) < 600_000);
      assertEquals(engine.stats.skippedEvents, 1);
      ac.abort();
      assertEquals((await it.next()).done, true); // ends quietly
    } finally {
      await engine.close();
    }
  },
);

containerdTest(
  "restart mid-watch resyncs the difference",
  async (ctr, e) => {
    const ns = await customNamespace(ctr);
    const keep = uniq("keep"), gone = uniq("gone"), fresh = uniq("fresh");
    await using watcher = watchContainerd(e.socket, {
      // Likely long enough to start a task between containerd's restart and
      // the resync (either way the subscriber sees the same difference).
      backoff: { initialMs: 1500, maxMs: 3000, jitter: 0 },
    });
    await using rec = new EventRecorder(watcher);
    await ctr.run(ns, keep);
    await ctr.run(ns, gone);
    await using _watch = await watchReady(watcher);
    assert(watcher.portfolio.container(`${ns}/${gone}`));
    const gonePid = watcher.portfolio.container(`${ns}/${gone}`)!.pid;
    const before = rec.events.length;

    await stopEngine(e);
    Deno.kill(gonePid, "SIGKILL"); // killed while containerd is down
    await startEngine(e);
    await ctr.run(ns, fresh); // maybe before the watcher resubscribed

    await rec.waitFor([`${ns}/${fresh}`, `${ns}/${gone}`], 3);
    const diff = rec.events.slice(before).filter((x) =>
      x.id.startsWith(`${ns}/`)
    ).map((x) => `${x.type} ${x.id}`).sort();
    assertEquals(diff, [`exited ${ns}/${gone}`, `started ${ns}/${fresh}`]);

    // The portfolio equals `ctr task ls` in every watched namespace.
    assertEquals(
      differences(viewOf(watcher.portfolio.containers()), await ctr.truth()),
      [],
    );
  },
);
