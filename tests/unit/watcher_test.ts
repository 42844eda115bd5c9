// The watcher core against the scripted fake engine: one test per sync
// rule and race, resync differences, slow subscribers, close and abort.

import {
  assert,
  assertEquals,
  assertRejects,
  assertStrictEquals,
} from "../_assert.ts";
import { PROJECT_UNKNOWN } from "../../engineclient/mod.ts";
import {
  SubscriberOverflowError,
  Watcher,
  WatcherClosedError,
  type WatcherEvent,
} from "../../watcher/mod.ts";
import { FakeEngine, flush } from "./_fake_engine.ts";
import {
  checkLifecycle,
  drain,
  FAST,
  ids,
  setup,
  take,
} from "./_watcher_harness.ts";

Deno.test("initial sync: subscribe first, then list; ready and synthetic starts", async () => {
  await using t = setup();
  t.engine.add({ id: "a", name: "alpha" });
  t.engine.add({ id: "b", name: "beta" });
  const early = t.watcher.events();
  t.watch();
  const stream = await t.engine.nextStream();
  const list = await t.engine.nextList();
  assertEquals(t.engine.calls.lifecycleEvents, 1);
  assert(!stream.closed);
  list.resolve();
  await t.watcher.ready;
  assertEquals(ids(t.watcher), ["a", "b"]);
  assertEquals(t.watcher.portfolio.container("beta")?.id, "b");
  assertEquals((await take(early, 2)).sort(), ["started a", "started b"]);
  // A subscriber after ready gets no synthetic events, only live ones.
  const late = t.watcher.events();
  t.engine.start({ id: "c" });
  assertEquals(await take(late, 1), ["started c"]);
  assertEquals(await take(early, 1), ["started c"]);
  assertEquals(t.watcher.syncCount, 1);
});

Deno.test("sync race: an exit during the list drops the listed container", async () => {
  await using t = setup();
  t.engine.add({ id: "a" });
  const b = t.engine.add({ id: "b" });
  const sub = t.watcher.events();
  t.watch();
  await t.engine.nextStream();
  const list = await t.engine.nextList();
  const stale = [...t.engine.truth.values()]; // listed before the exit
  t.engine.exit("b");
  await flush();
  list.resolve(stale);
  await t.watcher.ready;
  assertEquals(ids(t.watcher), ["a"]);
  assertEquals(await drain(sub), ["started a"]);
  assert(stale.includes(b));
});

Deno.test("sync race: an exit then a start during the list re-adds the container", async () => {
  await using t = setup();
  t.engine.add({ id: "a", pid: 10 });
  const sub = t.watcher.events();
  t.watch();
  await t.engine.nextStream();
  const list = await t.engine.nextList();
  const stale = [...t.engine.truth.values()];
  t.engine.exit("a");
  t.engine.start({ id: "a", pid: 20 });
  await flush();
  list.resolve(stale);
  await t.watcher.ready;
  assertEquals(t.watcher.portfolio.container("a")?.pid, 20);
  assertEquals(await drain(sub), ["started a"]);
});

Deno.test("sync race: a start during the list is inspected, added at once and deduplicated", async () => {
  await using t = setup();
  const sub = t.watcher.events();
  t.watch();
  await t.engine.nextStream();
  const list = await t.engine.nextList();
  t.engine.start({ id: "n", name: "new" });
  await flush();
  // Added at once: visible before the list is merged.
  assertEquals(t.watcher.portfolio.container("new")?.id, "n");
  list.resolve(); // the list also has it
  await t.watcher.ready;
  assertEquals(ids(t.watcher), ["n"]);
  assertEquals(await drain(sub), ["started n"]);
  assertEquals(t.engine.calls.inspect, 1);
});

Deno.test("sync race: pause/unpause during the list are replayed, latest per ID", async () => {
  await using t = setup();
  t.engine.add({ id: "p" });
  t.engine.add({ id: "q" });
  t.engine.add({ id: "r", paused: true });
  const sub = t.watcher.events();
  t.watch();
  await t.engine.nextStream();
  const list = await t.engine.nextList();
  const stale = [...t.engine.truth.values()];
  t.engine.pause("p");
  t.engine.pause("q");
  t.engine.pause("q", false);
  t.engine.pause("r", false);
  await flush();
  list.resolve(stale);
  await t.watcher.ready;
  const p = t.watcher.portfolio;
  assertEquals(
    [
      p.container("p")?.paused,
      p.container("q")?.paused,
      p.container("r")?.paused,
    ],
    [true, false, false],
  );
  const got = await drain(sub);
  assertEquals(got.sort(), ["started p", "started q", "started r"]);
});

Deno.test("sync race: a pause after the list was taken is kept over the stale list", async () => {
  await using t = setup();
  t.engine.add({ id: "p" });
  t.watch();
  await t.engine.nextStream();
  (await t.engine.nextList()).resolve();
  await t.watcher.ready;
  const sub = t.watcher.events();
  t.engine.pause("p");
  assertEquals(await take(sub, 1), ["paused p"]);
  assertStrictEquals(t.watcher.portfolio.container("p")?.paused, true);
  t.engine.pause("p"); // no change: no event
  t.engine.pause("p", false);
  assertEquals(await take(sub, 1), ["unpaused p"]);
});

Deno.test("a start whose inspect finds no process is skipped", async () => {
  await using t = setup();
  t.watch();
  const stream = await t.engine.nextStream();
  (await t.engine.nextList()).resolve();
  await t.watcher.ready;
  const sub = t.watcher.events();
  stream.emit("started", "ghost"); // not in the truth: ProcesslessContainerError
  t.engine.start({ id: "real" });
  assertEquals(await take(sub, 1), ["started real"]);
  assertEquals(ids(t.watcher), ["real"]);
  assertEquals(t.watcher.syncCount, 1); // no resync for a processless one
});

Deno.test("an exit while the start's inspect runs cancels the start", async () => {
  await using t = setup(FAST, new FakeEngine({ autoInspect: false }));
  t.watch();
  await t.engine.nextStream();
  (await t.engine.nextList()).resolve();
  await t.watcher.ready;
  const sub = t.watcher.events();
  t.engine.start({ id: "x" });
  const inspect = await t.engine.nextInspect();
  t.engine.pause("y-unknown");
  t.engine.exit("x");
  await flush();
  inspect.resolve(t.engine.add({ id: "x" })); // stale answer
  t.engine.truth.delete("x");
  t.engine.start({ id: "z" });
  (await t.engine.nextInspect()).resolve();
  assertEquals(await take(sub, 1), ["started z"]);
  assertEquals(ids(t.watcher), ["z"]);
});

Deno.test("a pause while the start's inspect runs applies to the started container", async () => {
  await using t = setup(FAST, new FakeEngine({ autoInspect: false }));
  t.watch();
  await t.engine.nextStream();
  (await t.engine.nextList()).resolve();
  await t.watcher.ready;
  const sub = t.watcher.events();
  const c = t.engine.start({ id: "x" });
  const inspect = await t.engine.nextInspect();
  t.engine.pause("x");
  await flush();
  inspect.resolve(c); // taken before the pause
  const r = await sub.next();
  assertEquals(r.value?.type, "started");
  assertStrictEquals(r.value?.container.paused, true);
});

Deno.test("events of unknown containers are ignored", async () => {
  await using t = setup();
  t.engine.add({ id: "a" });
  t.watch();
  const stream = await t.engine.nextStream();
  (await t.engine.nextList()).resolve();
  await t.watcher.ready;
  const sub = t.watcher.events();
  stream.emit("exited", "never-seen");
  stream.emit("paused", "never-seen");
  stream.emit("unpaused", "never-seen");
  t.engine.exit("a");
  assertEquals(await take(sub, 1), ["exited a"]);
  assertEquals(await drain(sub), []);
  assertEquals(t.watcher.portfolio.size, 0);
});

Deno.test("PROJECT_UNKNOWN in events is resolved through the portfolio", async () => {
  await using t = setup();
  t.engine.add({
    id: "w",
    labels: { "com.docker.compose.project": "shop" },
  });
  t.engine.add({ id: "solo" });
  t.watch();
  await t.engine.nextStream();
  (await t.engine.nextList()).resolve();
  await t.watcher.ready;
  const sub = t.watcher.events();
  t.engine.pause("w");
  t.engine.exit("w", PROJECT_UNKNOWN);
  t.engine.exit("solo", PROJECT_UNKNOWN);
  const events: WatcherEvent[] = [];
  for await (const e of sub) {
    events.push(e);
    if (events.length === 3) break;
  }
  assertEquals(events.map((e) => [e.type, e.project]), [
    ["paused", "shop"],
    ["exited", "shop"],
    ["exited", ""],
  ]);
  assertEquals(t.watcher.portfolio.projectNames(), []);
});

Deno.test("portfolio follows live events; projects appear and vanish", async () => {
  await using t = setup();
  t.watch();
  await t.engine.nextStream();
  (await t.engine.nextList()).resolve();
  await t.watcher.ready;
  const sub = t.watcher.events();
  const shop = { "com.docker.compose.project": "shop" };
  t.engine.start({ id: "1", name: "web", labels: shop });
  t.engine.start({ id: "2", name: "db", labels: { ...shop } });
  t.engine.start({ id: "3", name: "loner" });
  await take(sub, 3);
  const p = t.watcher.portfolio;
  assertEquals(p.projectNames().sort(), ["", "shop"]);
  assertEquals(p.project("shop")?.size, 2);
  assertEquals(p.project("shop")?.container("db")?.id, "2");
  t.engine.exit("1");
  t.engine.exit("2");
  assertEquals(await take(sub, 2), ["exited 1", "exited 2"]);
  assertEquals(p.projectNames(), [""]);
  assertEquals(p.project("shop"), undefined);
});

Deno.test("resync after stream loss: make-before-break, only the difference", async () => {
  await using t = setup();
  t.engine.add({ id: "same" });
  t.engine.add({ id: "gone" });
  t.engine.add({ id: "topause" });
  t.engine.add({ id: "tounpause", paused: true });
  t.engine.add({ id: "restarted", pid: 1 });
  t.watch();
  const s1 = await t.engine.nextStream();
  (await t.engine.nextList()).resolve();
  await t.watcher.ready;
  const sub = t.watcher.events();
  const before = t.watcher.portfolio.containers();

  // While the stream is down, the engine changes.
  s1.fail(new Error("connection reset"));
  const s2 = await t.engine.nextStream();
  assert(s1.closed);
  t.engine.truth.delete("gone");
  t.engine.add({ id: "new" });
  t.engine.add({ ...t.engine.truth.get("topause")!, paused: true });
  t.engine.add({ ...t.engine.truth.get("tounpause")!, paused: false });
  t.engine.truth.delete("restarted");
  t.engine.add({ id: "restarted", pid: 2 });
  const list = await t.engine.nextList();
  // The old portfolio stays readable until the list is merged.
  assertEquals(t.watcher.portfolio.containers(), before);
  list.resolve();
  const got = await take(sub, 6);
  assertEquals(got.sort(), [
    "exited gone",
    "exited restarted",
    "paused topause",
    "started new",
    "started restarted",
    "unpaused tounpause",
  ]);
  assertEquals(await drain(sub), []); // nothing for "same"
  assertEquals(ids(t.watcher), [
    "new",
    "restarted",
    "same",
    "topause",
    "tounpause",
  ]);
  assertEquals(t.watcher.syncCount, 2);
  assertEquals((t.watcher.lastError as Error).message, "connection reset");
  assert(!s2.closed);
});

Deno.test("resync: events during the relist are applied live and not repeated", async () => {
  await using t = setup();
  t.engine.add({ id: "a" });
  t.engine.add({ id: "b" });
  t.watch();
  const s1 = await t.engine.nextStream();
  (await t.engine.nextList()).resolve();
  await t.watcher.ready;
  const sub = t.watcher.events();
  s1.fail();
  await t.engine.nextStream();
  const list = await t.engine.nextList();
  const stale = [...t.engine.truth.values()];
  t.engine.exit("a");
  t.engine.start({ id: "c" });
  t.engine.pause("b");
  assertEquals(await take(sub, 3), ["exited a", "started c", "paused b"]);
  list.resolve(stale);
  await flush();
  assertEquals(await drain(sub), []);
  assertEquals(ids(t.watcher), ["b", "c"]);
  assertStrictEquals(t.watcher.portfolio.container("b")?.paused, true);
});

Deno.test("a failed list or subscription is retried with backoff", async () => {
  await using t = setup();
  t.engine.add({ id: "a" });
  t.engine.subscribeFailures.push(new Error("no socket"));
  t.watch();
  const s1 = await t.engine.nextStream();
  (await t.engine.nextList()).reject(new Error("list failed"));
  await flush();
  assert(s1.closed); // the session's stream was released
  await t.engine.nextStream();
  (await t.engine.nextList()).resolve();
  await t.watcher.ready;
  assertEquals(ids(t.watcher), ["a"]);
  assertEquals(t.engine.calls.lifecycleEvents, 3);
  assertEquals(t.engine.calls.list, 2);
});

Deno.test("an unexpected end of the stream or a failed inspect resyncs", async () => {
  await using t = setup(FAST, new FakeEngine({ autoList: true }));
  t.watch();
  const s1 = await t.engine.nextStream();
  await t.watcher.ready;
  s1.end();
  const s2 = await t.engine.nextStream();
  await flush();
  assertEquals(t.watcher.syncCount, 2);
  assertEquals(t.engine.autoInspect, true);
  t.engine.autoInspect = false;
  s2.emit("started", "x");
  (await t.engine.nextInspect()).reject(new Error("engine broke"));
  await t.engine.nextStream();
  await flush();
  assertEquals(t.watcher.syncCount, 3);
  assertEquals((t.watcher.lastError as Error).message, "engine broke");
});

Deno.test("backoff disabled: watch() and ready reject with the first failure", async () => {
  await using t = setup({ backoff: false });
  const sub = t.watcher.events();
  const watching = t.watch();
  await t.engine.nextStream();
  const boom = new Error("list failed");
  (await t.engine.nextList()).reject(boom);
  await assertRejects(watching, (err) => err === boom);
  await assertRejects(t.watcher.ready, (err) => err === boom);
  await assertRejects(sub.next(), (err) => err === boom);
  assertEquals(t.engine.calls.list, 1);
});

Deno.test("slow subscriber: overflow ends only its subscription", async () => {
  await using t = setup({ ...FAST, queueSize: 5 });
  t.watch();
  await t.engine.nextStream();
  (await t.engine.nextList()).resolve();
  await t.watcher.ready;
  const slow = t.watcher.events(); // never reads
  const small = t.watcher.events({ queueSize: 2 });
  const fast = t.watcher.events({ queueSize: 1000 });
  const reading = take(fast, 40);
  for (let i = 0; i < 20; i++) t.engine.start({ id: `c${i}` });
  await flush();
  for (let i = 0; i < 20; i += 2) t.engine.exit(`c${i}`);
  for (let i = 1; i < 20; i += 2) t.engine.exit(`c${i}`);
  const got = await reading;
  assertEquals(got.length, 40);
  assertEquals(got.filter((e) => e.startsWith("started")).length, 20);
  assertEquals(t.watcher.portfolio.size, 0);
  await assertRejects(slow.next(), SubscriberOverflowError);
  await assertRejects(small.next(), (err) => {
    assert(err instanceof SubscriberOverflowError);
    assertEquals(err.queueSize, 2);
    assert(err.message.includes("re-read the portfolio and subscribe again"));
    return true;
  });
  assertEquals(await slow.next(), { value: undefined, done: true });
  // Subscribing again works.
  const again = t.watcher.events();
  t.engine.start({ id: "z" });
  assertEquals(await take(again, 1), ["started z"]);
});

Deno.test("events() registers at call time: no gap before a portfolio read", async () => {
  await using t = setup(FAST, new FakeEngine({ autoList: true }));
  t.engine.add({ id: "a" });
  t.watch();
  await t.watcher.ready;
  const stream = t.engine.stream!;
  stream.emit("exited", "a"); // queued in the stream, not yet handled
  const sub = t.watcher.events();
  const snapshot = t.watcher.portfolio.containers().map((c) => c.id);
  assertEquals(snapshot, ["a"]);
  assertEquals(await take(sub, 1), ["exited a"]);
});

Deno.test("a subscription ends quietly on its signal and on break", async () => {
  await using t = setup(FAST, new FakeEngine({ autoList: true }));
  t.watch();
  await t.watcher.ready;
  const controller = new AbortController();
  const sub = t.watcher.events({ signal: controller.signal });
  const pending = sub.next();
  controller.abort();
  assertEquals(await pending, { value: undefined, done: true });
  const sub2 = t.watcher.events();
  t.engine.start({ id: "a" });
  for await (const _ of sub2) break;
  t.engine.start({ id: "b" });
  assertEquals(await sub2.next(), { value: undefined, done: true });
  const aborted = t.watcher.events({ signal: AbortSignal.abort() });
  assertEquals(await aborted.next(), { value: undefined, done: true });
});

Deno.test("aborting watch() ends it promptly and ends subscriptions", async () => {
  await using t = setup();
  const sub = t.watcher.events();
  const watching = t.watch();
  const stream = await t.engine.nextStream();
  await t.engine.nextList(); // never answered
  t.controller.abort();
  await watching;
  assert(stream.closed);
  assertEquals(await sub.next(), { value: undefined, done: true });
  await assertRejects(t.watcher.ready);
  assertEquals(t.watcher.watching, false);
});

Deno.test("aborting during backoff ends watch() promptly", async () => {
  await using t = setup({ backoff: { initialMs: 60_000, jitter: 0 } });
  const watching = t.watch();
  await t.engine.nextStream();
  (await t.engine.nextList()).reject(new Error("down"));
  await flush();
  t.controller.abort();
  await watching; // the 60 s timer was cleared (sanitizers would tell)
});

Deno.test("close() releases everything; twice is harmless", async () => {
  const engine = new FakeEngine({ autoList: true });
  engine.add({ id: "a" });
  const watcher = new Watcher(engine, FAST);
  const watching = watcher.watch();
  await watcher.ready;
  const sub = watcher.events();
  const pending = sub.next();
  await Promise.all([watcher.close(), watcher.close()]);
  await watcher.close();
  await watching;
  assertEquals(engine.closed, 1);
  assert(engine.stream!.closed);
  assertEquals(await pending, { value: undefined, done: true });
  assertEquals(await watcher.events().next(), { value: undefined, done: true });
  await assertRejects(watcher.watch(), WatcherClosedError);
  // The portfolio stays readable after close.
  assertEquals(watcher.portfolio.size, 1);
});

Deno.test("close() before ready rejects ready; asyncDispose closes", async () => {
  const engine = new FakeEngine();
  {
    await using watcher = new Watcher(engine, FAST);
    watcher.watch();
    await engine.nextList();
    // leaving the block disposes the watcher
  }
  assertEquals(engine.closed, 1);
  const watcher = new Watcher(new FakeEngine(), FAST);
  await watcher.close();
  await assertRejects(watcher.ready, WatcherClosedError);
});

Deno.test("watch() twice at once is refused", async () => {
  await using t = setup(FAST, new FakeEngine({ autoList: true }));
  t.watch();
  await assertRejects(t.watcher.watch(), /already watching/);
  await t.watcher.ready;
});

Deno.test("periodic reconciliation relists and emits the difference", async () => {
  await using t = setup(
    { ...FAST, reconcileIntervalMs: 5 },
    new FakeEngine({ autoList: true }),
  );
  t.engine.add({ id: "a" });
  t.watch();
  await t.watcher.ready;
  const sub = t.watcher.events();
  // The engine changes without telling (a stalled stream).
  t.engine.truth.delete("a");
  t.engine.add({ id: "b" });
  assertEquals((await take(sub, 2)).sort(), ["exited a", "started b"]);
  assertEquals(ids(t.watcher), ["b"]);
  assertEquals(t.engine.calls.lifecycleEvents, 1); // same subscription
});

Deno.test("passthrough of engine identity", async () => {
  await using t = setup();
  assertEquals(
    [t.watcher.type, t.watcher.api, t.watcher.pid],
    ["fake.test", "fake:///engine.sock", 4242],
  );
  assertEquals(t.watcher.client, { fake: true });
  assertEquals(await t.watcher.id(), "fake-engine-id");
  assertEquals(await t.watcher.version(), "fake 1.0");
});

Deno.test("random script: every started is followed by exited or the container is alive", async () => {
  await using t = setup(FAST, new FakeEngine({ autoList: true }));
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let i = 0; i < 5; i++) t.engine.add({ id: `init${i}` });
  const sub = t.watcher.events({ queueSize: 100_000 });
  t.watch();
  await t.watcher.ready;
  let next = 0;
  for (let round = 0; round < 300; round++) {
    const alive = [...t.engine.truth.keys()];
    const op = rnd(10);
    if (op < 4 || alive.length === 0) t.engine.start({ id: `n${next++}` });
    else if (op < 7) t.engine.exit(alive[rnd(alive.length)]);
    else if (op < 9) t.engine.pause(alive[rnd(alive.length)], rnd(2) === 0);
    else if (op === 9 && rnd(4) === 0) {
      t.engine.stream!.fail();
      // Changes while disconnected.
      t.engine.truth.delete(alive[rnd(alive.length)]);
      t.engine.add({ id: `n${next++}` });
      await t.engine.nextStream();
    }
    if (rnd(5) === 0) await flush();
  }
  await flush();
  await flush();
  const { alive } = checkLifecycle(await drain(sub));
  assertEquals(alive, ids(t.watcher));
  assertEquals(ids(t.watcher), [...t.engine.truth.keys()].sort());
  for (const c of t.watcher.portfolio.containers()) {
    assertEquals(c.paused, t.engine.truth.get(c.id)!.paused, c.id);
  }
});

Deno.test("a Preflighter engine runs preflight before each subscription", async () => {
  const order: string[] = [];
  const engine = new (class extends FakeEngine {
    preflight() {
      order.push("preflight");
      return Promise.resolve();
    }
    override lifecycleEvents(options?: { signal?: AbortSignal }) {
      order.push("subscribe");
      return super.lifecycleEvents(options);
    }
    override list(options?: { signal?: AbortSignal }) {
      order.push("list");
      return super.list(options);
    }
  })({ autoList: true });
  await using t = setup(FAST, engine);
  t.watch();
  await t.watcher.ready;
  engine.stream!.fail();
  await engine.nextStream();
  await engine.nextStream();
  await flush();
  assertEquals(order, [
    "preflight",
    "subscribe",
    "list",
    "preflight",
    "subscribe",
    "list",
  ]);
});

Deno.test("concurrent next() calls on one subscription are served in order", async () => {
  await using t = setup(FAST, new FakeEngine({ autoList: true }));
  t.watch();
  await t.watcher.ready;
  const sub = t.watcher.events();
  const first = sub.next();
  const second = sub.next();
  const third = sub.next();
  t.engine.start({ id: "a" });
  t.engine.start({ id: "b" });
  assertEquals((await first).value?.id, "a");
  assertEquals((await second).value?.id, "b");
  await sub.return!();
  assertEquals(await third, { value: undefined, done: true });
});
