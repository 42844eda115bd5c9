// Cheap reconciliation against the scripted fake engine: an engine client
// with the SummaryLister capability is reconciled from summaries, and only
// new or differing containers are inspected; one test per race between a
// pass and the events (exits, starts whose inspect is pending, pauses).

import { assert, assertEquals, assertStrictEquals } from "../_assert.ts";
import { newContainer } from "../../engineclient/mod.ts";
import {
  FakeEngine,
  flush,
  SummarizingFakeEngine,
  type SummarizingFakeEngineOptions,
} from "./_fake_engine.ts";
import {
  checkLifecycle,
  FAST,
  ids,
  Recorded,
  setup,
} from "./_watcher_harness.ts";

// A pass starts 1 ms after the previous one: each test answers the passes
// it wants to script, one at a time.
const PASSES = { ...FAST, reconcileIntervalMs: 1 };

// A watcher, synced with `initial` containers, and a subscriber from then on.
async function synced(
  initial: string[],
  options: SummarizingFakeEngineOptions = {},
) {
  const engine = new SummarizingFakeEngine({ autoList: true, ...options });
  for (const id of initial) engine.add({ id });
  const t = setup(PASSES, engine);
  t.watch();
  await t.watcher.ready;
  const sub = new Recorded(t.watcher.events({ queueSize: 100_000 }));
  return { ...t, sub };
}

Deno.test("cheap reconciliation: unchanged containers cost one listing per pass, no inspect, no event", async () => {
  const initial = Array.from({ length: 200 }, (_, i) => `c${i}`);
  await using t = await synced(initial, { autoSummaries: true });
  const syncs = t.watcher.syncCount;
  while (t.watcher.syncCount < syncs + 5) await flush();
  const passes = t.watcher.syncCount - 1;
  assertEquals(t.engine.calls.list, 1); // the initial sync only
  // Counted before the check: a pass may have started meanwhile.
  assert(t.engine.calls.listSummaries >= passes);
  assertEquals(t.engine.calls.inspect ?? 0, 0);
  assertEquals(await t.sub.rest(), []);
  assertEquals(t.watcher.stats.repairs, 0);
  assertEquals(ids(t.watcher).length, 200);
});

Deno.test("cheap reconciliation: a new ID is inspected and started, a missing one exits, a changed pause state is inspected", async () => {
  await using t = await synced(["same", "gone", "topause"]);
  // The engine changes without telling (events lost).
  t.engine.truth.delete("gone");
  t.engine.add({ id: "new" });
  t.engine.add({ ...t.engine.truth.get("topause")!, paused: true });
  (await t.engine.nextSummaries()).resolve();
  assertEquals((await t.sub.take(3)).sort(), [
    "exited gone",
    "paused topause",
    "started new",
  ]);
  assertEquals(t.engine.calls.inspect, 2); // "new" and "topause"
  (await t.engine.nextSummaries()).resolve();
  await t.engine.nextSummaries(); // the pass after that began: nothing more
  assertEquals(await t.sub.rest(), []);
  assertEquals(t.engine.calls.inspect, 2);
  assertEquals(ids(t.watcher), ["new", "same", "topause"]);
  assertEquals(t.watcher.stats.repairs, 3);
});

Deno.test("cheap reconciliation: summaries with PIDs reveal a restart missed by the stream", async () => {
  await using t = await synced(["a", "b"], { pids: true });
  const old = t.engine.truth.get("a")!;
  t.engine.add({ ...old, pid: old.pid + 100 }); // restarted silently
  (await t.engine.nextSummaries()).resolve();
  assertEquals(await t.sub.take(2), ["exited a", "started a"]);
  assertEquals(t.watcher.portfolio.container("a")?.pid, old.pid + 100);
  assertEquals(t.engine.calls.inspect, 1);
});

Deno.test("resync after a lost stream inspects everything: a restart is found without PIDs in the summaries", async () => {
  await using t = await synced(["a", "b"]);
  const old = t.engine.truth.get("a")!;
  t.engine.add({ ...old, pid: old.pid + 100 });
  // A cheap pass cannot see it: Docker's listing has no PID.
  (await t.engine.nextSummaries()).resolve();
  const pending = await t.engine.nextSummaries();
  assertEquals(await t.sub.rest(), []);
  // The stream is lost: the resync uses the full list.
  const lists = t.engine.calls.list;
  t.engine.stream!.fail();
  pending.reject(new Error("session over"));
  assertEquals(await t.sub.take(2), ["exited a", "started a"]);
  assertEquals(t.engine.calls.list, lists + 1);
  assertEquals(t.watcher.portfolio.container("a")?.pid, old.pid + 100);
});

Deno.test("an engine without the capability is reconciled with full lists", async () => {
  const engine = new FakeEngine({ autoList: true });
  engine.add({ id: "a" });
  await using t = setup(PASSES, engine);
  t.watch();
  await t.watcher.ready;
  while (t.watcher.syncCount < 4) await flush();
  assert(t.engine.calls.list >= 4);
  assertEquals(t.engine.calls.listSummaries, undefined);
  assertEquals(t.engine.calls.inspect ?? 0, 0);
});

Deno.test("pass race: an exit after the listing was taken is not undone by it", async () => {
  await using t = await synced(["a", "b"]);
  const pass = await t.engine.nextSummaries();
  const stale = t.engine.summaries();
  t.engine.exit("a");
  assertEquals(await t.sub.take(1), ["exited a"]);
  pass.resolve(stale);
  await t.engine.nextSummaries();
  assertEquals(await t.sub.rest(), []);
  assertEquals(ids(t.watcher), ["b"]);
  assertEquals(t.engine.calls.inspect ?? 0, 0);
});

Deno.test("pass race: a start inspected after the listing was taken is kept", async () => {
  await using t = await synced(["a"]);
  const pass = await t.engine.nextSummaries();
  const stale = t.engine.summaries();
  t.engine.start({ id: "b" });
  assertEquals(await t.sub.take(1), ["started b"]);
  pass.resolve(stale);
  await t.engine.nextSummaries();
  assertEquals(await t.sub.rest(), []);
  assertEquals(ids(t.watcher), ["a", "b"]);
  assertEquals(t.engine.calls.inspect, 1); // the start's own
});

Deno.test("pass race: a start whose inspect is pending is not inspected again", async () => {
  await using t = await synced(["a"], { autoInspect: false });
  t.engine.start({ id: "b" });
  const startInspect = await t.engine.nextInspect();
  // The listing already shows "b"; its start's inspect settles it.
  (await t.engine.nextSummaries()).resolve();
  const next = await t.engine.nextSummaries();
  assertEquals(t.engine.calls.inspect, 1);
  assertEquals(await t.sub.rest(), []);
  startInspect.resolve();
  assertEquals(await t.sub.take(1), ["started b"]);
  next.resolve();
  await t.engine.nextSummaries();
  assertEquals(await t.sub.rest(), []);
  assertEquals(t.engine.calls.inspect, 1);
});

Deno.test("pass race: a pause after the listing was taken is kept over the stale listing", async () => {
  await using t = await synced(["a"]);
  const pass = await t.engine.nextSummaries();
  const stale = t.engine.summaries();
  t.engine.pause("a");
  assertEquals(await t.sub.take(1), ["paused a"]);
  pass.resolve(stale);
  await t.engine.nextSummaries();
  assertEquals(await t.sub.rest(), []);
  assertStrictEquals(t.watcher.portfolio.container("a")?.paused, true);
  assertEquals(t.engine.calls.inspect ?? 0, 0);
});

Deno.test("pass race: an exit while a verification's inspect runs wins over its answer", async () => {
  await using t = await synced(["a"], { autoInspect: false });
  t.engine.add({ id: "b" }); // its start event was lost
  (await t.engine.nextSummaries()).resolve();
  const verify = await t.engine.nextInspect();
  assertEquals(verify.id, "b");
  const alive = t.engine.truth.get("b")!;
  t.engine.exit("b");
  verify.resolve(alive); // answered before the exit, delivered after it
  await t.engine.nextSummaries();
  assertEquals(await t.sub.rest(), []);
  assertEquals(ids(t.watcher), ["a"]);
});

Deno.test("pass race: a pause while a verification's inspect runs applies to its answer", async () => {
  await using t = await synced(["a"], { autoInspect: false });
  t.engine.add({ id: "b" });
  (await t.engine.nextSummaries()).resolve();
  const verify = await t.engine.nextInspect();
  const unpaused = t.engine.truth.get("b")!;
  t.engine.pause("b");
  verify.resolve(unpaused);
  assertEquals(await t.sub.take(1), ["started b"]);
  assertStrictEquals(t.watcher.portfolio.container("b")?.paused, true);
});

Deno.test("pass race: a start event during a verification's inspect supersedes it", async () => {
  await using t = await synced(["a"], { autoInspect: false });
  t.engine.add({ id: "b" });
  (await t.engine.nextSummaries()).resolve();
  const verify = await t.engine.nextInspect();
  t.engine.exit("b");
  const restarted = t.engine.start({ id: "b", pid: 9999 });
  const startInspect = await t.engine.nextInspect();
  verify.resolve(newContainer({ id: "b", pid: 1 })); // the old incarnation
  startInspect.resolve();
  assertEquals(await t.sub.take(1), ["started b"]);
  assertStrictEquals(t.watcher.portfolio.container("b"), restarted);
  await flush();
  assertEquals(await t.sub.rest(), []);
});

Deno.test("a verification that finds no process ends the container", async () => {
  await using t = await synced(["a", "b"], { autoInspect: false });
  // "a" looks paused in the listing, but is gone by the inspect.
  (await t.engine.nextSummaries()).resolve([
    { id: "a", paused: true },
    { id: "b", paused: false },
  ]);
  t.engine.truth.delete("a");
  (await t.engine.nextInspect()).resolve();
  assertEquals(await t.sub.take(1), ["exited a"]);
  assertEquals(ids(t.watcher), ["b"]);
});

Deno.test("a verification that fails otherwise resyncs from a full list", async () => {
  await using t = await synced(["a"], { autoInspect: false });
  t.engine.add({ id: "b" });
  const lists = t.engine.calls.list;
  (await t.engine.nextSummaries()).resolve();
  (await t.engine.nextInspect()).reject(new Error("engine broke"));
  await t.engine.nextStream();
  assertEquals(await t.sub.take(1), ["started b"]);
  assertEquals(t.engine.calls.list, lists + 1);
  assertEquals((t.watcher.lastError as Error).message, "engine broke");
});

Deno.test("random script with lost events: cheap passes heal the portfolio and every subscriber's sequence stays consistent", async () => {
  for (const pids of [false, true]) {
    const engine = new SummarizingFakeEngine({
      autoList: true,
      autoSummaries: true,
      pids,
    });
    await using t = setup(PASSES, engine);
    let seed = pids ? 11 : 5;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 10; i++) engine.add({ id: `init${i}` });
    const sub = new Recorded(t.watcher.events({ queueSize: 100_000 }));
    t.watch();
    await t.watcher.ready;
    let next = 0;
    for (let round = 0; round < 400; round++) {
      const alive = [...engine.truth.keys()];
      const pick = () => alive[rnd(alive.length)];
      const op = rnd(12);
      if (op < 3 || alive.length === 0) engine.start({ id: `n${next++}` });
      else if (op < 5) engine.exit(pick());
      else if (op < 7) engine.pause(pick(), rnd(2) === 0);
      else if (op === 7) engine.add({ id: `lost${next++}` }); // start lost
      else if (op === 8) engine.truth.delete(pick()); // exit lost
      else if (op === 9) {
        const c = engine.truth.get(pick())!;
        engine.add({ ...c, paused: !c.paused }); // pause lost
      } else if (op === 10 && pids) {
        const c = engine.truth.get(pick())!;
        engine.add({ ...c, pid: c.pid + 1 }); // restart lost
      }
      if (rnd(4) === 0) await flush();
    }
    // Two full passes after the last change.
    const syncs = t.watcher.syncCount;
    while (t.watcher.syncCount < syncs + 2) await flush();
    const { alive } = checkLifecycle(await sub.rest());
    assertEquals(alive, ids(t.watcher));
    assertEquals(ids(t.watcher), [...engine.truth.keys()].sort());
    for (const c of t.watcher.portfolio.containers()) {
      const truth = engine.truth.get(c.id)!;
      assertEquals([c.paused, c.pid], [truth.paused, truth.pid], c.id);
    }
    assert(t.watcher.stats.repairs > 0);
    assertEquals(t.engine.calls.list, 1);
  }
});
