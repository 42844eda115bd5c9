// The containerd adaptor against a real containerd (the rig): lists,
// identities, ignored namespaces, events, exec exits and a restart.

import { assert, assertEquals, assertRejects } from "../_assert.ts";
import {
  ctr,
  docker,
  integrationTest,
  type Rig,
  startEngine,
  stopEngine,
} from "../engines/rig.ts";
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
import type { Watcher, WatcherEvent } from "../../watcher/mod.ts";
import * as grpc from "@grpc/grpc-js";
import { loadProtos, unaryCall } from "../../adapters/_grpc/mod.ts";
import { CONTAINERD_PROTOS } from "../../protos/containerd/_protos.ts";

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

// One custom namespace for the whole file: images are per namespace, so the
// test image is exported from `default` and imported once.
const CUSTOM_NS = "whalewatcher-test";
let customReady: Promise<void> | undefined;
function customNamespace(rig: Rig): Promise<string> {
  customReady ??= (async () => {
    const tar = `${rig.dir}/containerd-test-image-${Deno.pid}.tar`;
    await ctr("-n", "default", "image", "export", tar, rig.ctrImage);
    try {
      await ctr("-n", CUSTOM_NS, "image", "import", tar);
    } finally {
      await Deno.remove(tar).catch(() => {});
    }
  })();
  return customReady.then(() => CUSTOM_NS);
}

let serial = 0;
function uniq(prefix: string): string {
  return `${prefix}-${Deno.pid}-${++serial}-${Math.floor(Math.random() * 1e6)}`;
}

/** `ctr task ls` of a namespace: container ID → { pid, status }. */
async function ctrTasks(
  ns: string,
): Promise<Map<string, { pid: number; status: string }>> {
  const out = await ctr("-n", ns, "task", "ls");
  const tasks = new Map<string, { pid: number; status: string }>();
  for (const line of out.trim().split("\n").slice(1)) {
    const [id, pid, status] = line.trim().split(/\s+/);
    if (id) tasks.set(id, { pid: Number(pid), status });
  }
  return tasks;
}

async function runTask(
  rig: Rig,
  ns: string,
  id: string,
  labels: Record<string, string> = {},
): Promise<void> {
  const args = ["-n", ns, "run", "-d"];
  for (const [k, v] of Object.entries(labels)) {
    args.push("--label", `${k}=${v}`);
  }
  await ctr(...args, rig.ctrImage, id);
}

async function removeTask(ns: string, id: string): Promise<void> {
  await ctr("-n", ns, "task", "kill", "-s", "SIGKILL", id).catch(() => {});
  // The task must have stopped before it can be deleted.
  for (let i = 0; i < 100; i++) {
    const t = (await ctrTasks(ns)).get(id);
    if (!t || t.status === "STOPPED") break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await ctr("-n", ns, "task", "rm", "-f", id).catch(() => {});
  await ctr("-n", ns, "container", "rm", id).catch(() => {});
}

async function waitTaskStatus(ns: string, id: string, status: string) {
  for (let i = 0; i < 200; i++) {
    if ((await ctrTasks(ns)).get(id)?.status === status) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`task ${ns}/${id} never got ${status}`);
}

/** Reads watcher events into an array until the returned stop is called. */
function collect(watcher: Watcher) {
  const ac = new AbortController();
  const events: WatcherEvent[] = [];
  let wake: (() => void) | undefined;
  const done = (async () => {
    for await (const e of watcher.events({ signal: ac.signal })) {
      events.push(e);
      wake?.();
    }
  })();
  return {
    events,
    /** Waits until `pred` holds for the collected events. */
    async until(pred: (events: WatcherEvent[]) => boolean, what: string) {
      const deadline = performance.now() + 15_000;
      while (!pred(events)) {
        if (performance.now() > deadline) {
          throw new Error(
            `timed out waiting for ${what}; got ${JSON.stringify(events)}`,
          );
        }
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 100);
        });
      }
    },
    async stop() {
      ac.abort();
      await done;
    },
  };
}

integrationTest("containerd: registered, probed, identified", async (rig) => {
  assert(engineRegistry.has("containerd.io"));
  assertEquals(engineRegistry.get("containerd.io"), containerdAdapter);
  const found = await containerdAdapter.probe!(rig.containerdSocket, {
    signal: AbortSignal.timeout(5000),
  });
  assertEquals(found?.type, "containerd.io");
  assert(found?.version && found.version.length > 0);
  await assertRejects(
    containerdAdapter.probe!(`${rig.dir}/no-such.sock`, {
      signal: AbortSignal.timeout(5000),
    }),
  );
  const engine = await engineRegistry.create(
    "containerd.io",
    rig.containerdSocket,
    { pid: 4242 },
  ) as ContainerdClient;
  try {
    assertEquals(engine.type, "containerd.io");
    assertEquals(engine.api, rig.containerdSocket);
    assertEquals(engine.pid, 4242);
    assert(engine.client);
    assertEquals((await engine.version()).split(" ").length, 2);
    const id = await engine.id();
    assert(/^[0-9a-f-]{36}$/.test(id), id);
    assertEquals(await engine.id(), id);
  } finally {
    await engine.close();
    await engine.close(); // harmless twice
  }
  const renamed = new ContainerdClient(rig.containerdSocket, {
    type: "example.io",
  });
  assertEquals(renamed.type, "example.io");
  await renamed.close();
});

integrationTest("containerd: lists tasks with identities", async (rig) => {
  const ns = await customNamespace(rig);
  const a = uniq("a"), b = uniq("b"), c = uniq("c");
  const noTask = uniq("notask"), stopped = uniq("stopped");
  const engine = new ContainerdClient(rig.containerdSocket);
  try {
    await runTask(rig, "default", a, {
      "nerdctl/name": "web",
      "com.docker.compose.project": "shop",
    });
    await runTask(rig, ns, b, { "nerdctl/name": "db", team: "x" });
    await runTask(rig, ns, c);
    await ctr("-n", ns, "container", "create", rig.ctrImage, noTask);
    await runTask(rig, ns, stopped);
    await ctr("-n", ns, "task", "kill", "-s", "SIGKILL", stopped);
    await waitTaskStatus(ns, stopped, "STOPPED");
    await ctr("-n", ns, "task", "pause", c);

    const list = await engine.list();
    const byId = new Map(list.map((x) => [x.id, x]));
    const dflt = await ctrTasks("default"), custom = await ctrTasks(ns);

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
    assertEquals(cb.pid, custom.get(b)!.pid);

    const cc = byId.get(`${ns}/${c}`)!;
    assertEquals(cc.name, `${ns}/${c}`);
    assertEquals(cc.paused, true);
    assertEquals(cc.pid, custom.get(c)!.pid);

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
    for (const id of [a]) await removeTask("default", id);
    for (const id of [b, c, noTask, stopped]) await removeTask(ns, id);
  }
});

integrationTest(
  "containerd: moby and k8s.io ignored by default",
  async (rig) => {
    const k8s = uniq("k8s");
    const mobyId = (await docker("run", "-d", rig.image)).trim();
    const dflt = new ContainerdClient(rig.containerdSocket);
    const all = new ContainerdClient(rig.containerdSocket, {
      ignoredNamespaces: [],
    });
    try {
      await runTask(rig, "k8s.io", k8s);
      const hidden = new Set((await dflt.list()).map((c) => c.id));
      assert(!hidden.has(`moby/${mobyId}`));
      assert(!hidden.has(`k8s.io/${k8s}`));
      assert(!(await dflt.namespaces()).includes("moby"));
      const shown = new Set((await all.list()).map((c) => c.id));
      assert(shown.has(`moby/${mobyId}`), `moby/${mobyId} not listed`);
      assert(shown.has(`k8s.io/${k8s}`));
    } finally {
      await dflt.close();
      await all.close();
      await docker("rm", "-f", mobyId).catch(() => {});
      await removeTask("k8s.io", k8s);
    }
  },
);

integrationTest("containerd: lifecycle events and portfolio", async (rig) => {
  const ns = await customNamespace(rig);
  const id = uniq("ev");
  const display = `${ns}/${id}`;
  const watcher = watchContainerd(rig.containerdSocket, { backoff: false });
  const ac = new AbortController();
  const watching = watcher.watch(ac.signal);
  const seen = collect(watcher);
  const mine = () => seen.events.filter((e) => e.id === display);
  try {
    await watcher.ready;
    await runTask(rig, ns, id, { "nerdctl/name": "evn" });
    await seen.until((e) => e.some((x) => x.id === display), "started");
    assertEquals(mine().map((e) => e.type), ["started"]);
    const started = watcher.portfolio.container(display)!;
    assertEquals(started.pid, (await ctrTasks(ns)).get(id)!.pid);
    assertEquals(watcher.portfolio.container(`${ns}/evn`), started);

    await ctr("-n", ns, "task", "pause", id);
    await seen.until(() => mine().length === 2, "paused");
    assertEquals(mine()[1].type, "paused");
    assertEquals(watcher.portfolio.container(display)!.paused, true);

    await ctr("-n", ns, "task", "resume", id);
    await seen.until(() => mine().length === 3, "unpaused");
    assertEquals(mine()[2].type, "unpaused");
    assertEquals(watcher.portfolio.container(display)!.paused, false);

    // An exec'd process that exits is not the container's exit: the pause
    // after it (events are delivered in order) comes next.
    await ctr("-n", ns, "task", "exec", "--exec-id", uniq("x"), id, "true");
    await ctr("-n", ns, "task", "pause", id);
    await seen.until(() => mine().length >= 4, "paused after exec");
    assertEquals(mine()[3].type, "paused");
    assert(watcher.portfolio.container(display)?.paused);
    await ctr("-n", ns, "task", "kill", "-s", "SIGKILL", id);
    await ctr("-n", ns, "task", "resume", id).catch(() => {});
    await seen.until(() => mine().some((e) => e.type === "exited"), "exited");
    const types = mine().map((e) => e.type);
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
    await ctr("-n", ns, "task", "rm", id);
    await ctr("-n", ns, "container", "rm", id);
    await runTask(rig, ns, id);
    await seen.until(() => mine().length > afterExit, "restarted");
    assertEquals(mine().slice(afterExit).map((e) => e.type), ["started"]);
    assert(watcher.portfolio.container(display));
    await removeTask(ns, id);
    await seen.until(() => mine().length > afterExit + 1, "exit");
    assertEquals(mine().slice(afterExit).map((e) => e.type), [
      "started",
      "exited",
    ]);
    assertEquals(watcher.portfolio.container(display), undefined);
  } finally {
    ac.abort();
    await watching;
    await seen.stop();
    await watcher.close();
    await removeTask(ns, id);
  }
});

integrationTest(
  "containerd: raw events, undecodable skipped, abort",
  async (rig) => {
    const ns = await customNamespace(rig);
    const id = uniq("raw");
    const engine = new ContainerdClient(rig.containerdSocket);
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
        [
          0xff,
          0xff,
          0xff,
        ],
      );
      await runTask(rig, ns, id);
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
      await removeTask(ns, id);
    }
  },
);

integrationTest(
  "containerd: restart mid-watch resyncs the difference",
  async (rig) => {
    const ns = await customNamespace(rig);
    const keep = uniq("keep"), gone = uniq("gone"), fresh = uniq("fresh");
    const watcher = watchContainerd(rig.containerdSocket, {
      // Long enough to start a task between containerd's restart and resync.
      backoff: { initialMs: 1500, maxMs: 3000, jitter: 0 },
    });
    const ac = new AbortController();
    let watching: Promise<void> | undefined;
    const seen = collect(watcher);
    try {
      await runTask(rig, ns, keep);
      await runTask(rig, ns, gone);
      watching = watcher.watch(ac.signal);
      await watcher.ready;
      assert(watcher.portfolio.container(`${ns}/${gone}`));
      const gonePid = watcher.portfolio.container(`${ns}/${gone}`)!.pid;
      const before = seen.events.length;

      await stopEngine("containerd");
      Deno.kill(gonePid, "SIGKILL"); // killed while containerd is down
      await startEngine("containerd");
      await runTask(rig, ns, fresh); // started before the watcher resubscribed

      await seen.until(
        (e) =>
          e.slice(before).some((x) => x.id === `${ns}/${fresh}`) &&
          e.slice(before).some((x) => x.id === `${ns}/${gone}`),
        "resync difference",
      );
      const diff = seen.events.slice(before).filter((e) =>
        e.id.startsWith(`${ns}/`)
      )
        .map((e) => `${e.type} ${e.id}`).sort();
      assertEquals(diff, [`exited ${ns}/${gone}`, `started ${ns}/${fresh}`]);

      // The portfolio equals `ctr task ls` in every watched namespace.
      const engine = watcher.engine as ContainerdClient;
      const expected: string[] = [];
      for (const n of await engine.namespaces()) {
        for (const [id, t] of await ctrTasks(n)) {
          if (["RUNNING", "PAUSED", "PAUSING"].includes(t.status)) {
            expected.push(`${n === "default" ? id : `${n}/${id}`} ${t.pid}`);
          }
        }
      }
      const actual = watcher.portfolio.containers().map((c) =>
        `${c.id} ${c.pid}`
      );
      assertEquals(actual.sort(), expected.sort());
    } finally {
      ac.abort();
      await watching;
      await seen.stop();
      await watcher.close();
      for (const id of [keep, gone, fresh]) await removeTask(ns, id);
    }
  },
);
