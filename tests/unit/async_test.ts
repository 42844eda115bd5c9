// The shared async building blocks: delay, abortable, the worker pool and
// the queue.
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import {
  abortable,
  AsyncQueue,
  delay,
  mapPool,
} from "../../engineclient/_async.ts";

Deno.test("delay: resolves after the time, rejects at once on abort with the reason", async () => {
  await delay(1);
  const ac = new AbortController();
  const waiting = delay(60_000, ac.signal);
  ac.abort(new Error("stop"));
  await assertRejects(waiting, /stop/);
  await assertRejects(delay(1, AbortSignal.abort(new Error("early"))), /early/);
});

Deno.test("abortable: a promise that never settles is left behind on abort", async () => {
  const ac = new AbortController();
  const raced = abortable(new Promise<number>(() => {}), ac.signal);
  ac.abort(new Error("gone"));
  await assertRejects(raced, /gone/);
  assertEquals(
    await abortable(Promise.resolve(3), ac.signal).catch(() => -1),
    -1,
  );
  assertEquals(await abortable(Promise.resolve(4)), 4);
});

Deno.test("mapPool: keeps order and bounds concurrency", async () => {
  let running = 0, peak = 0;
  const gates: (() => void)[] = [];
  const pool = mapPool([1, 2, 3, 4, 5, 6, 7], async (n) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise<void>((r) => gates.push(r));
    running--;
    return n * 2;
  }, { concurrency: 3 });
  // Release the calls one by one, as they queue up.
  while (gates.length || running) {
    await Promise.resolve();
    gates.shift()?.();
    await new Promise((r) => setTimeout(r, 0));
  }
  assertEquals(await pool, [2, 4, 6, 8, 10, 12, 14]);
  assertEquals(peak, 3);
  assertEquals(
    await mapPool([], () => Promise.resolve(1), { concurrency: 3 }),
    [],
  );
});

Deno.test("mapPool: the first failure stops the pool; running calls see an aborted signal", async () => {
  const started: number[] = [];
  const signals: AbortSignal[] = [];
  let fail!: (err: Error) => void;
  const pool = mapPool([1, 2, 3, 4, 5, 6], (n, signal) => {
    started.push(n);
    signals.push(signal);
    if (n === 1) return new Promise<number>((_, reject) => (fail = reject));
    return new Promise<number>(() => {}); // never answers
  }, { concurrency: 2 });
  fail(new Error("first failed"));
  await assertRejects(pool, /first failed/);
  assertEquals(started, [1, 2]); // no further call started
  assert(signals.every((s) => s.aborted));
});

Deno.test("mapPool: an abort of the caller's signal stops the pool at once", async () => {
  const ac = new AbortController();
  let calls = 0;
  const pool = mapPool([1, 2, 3], () => {
    calls++;
    return new Promise<number>(() => {});
  }, { concurrency: 1, signal: ac.signal });
  ac.abort(new Error("closed"));
  await assertRejects(pool, /closed/);
  assertEquals(calls, 1);
});

Deno.test("AsyncQueue: delivers in order, then ends with the error after the queued items", async () => {
  const q = new AsyncQueue<number>();
  q.push(1);
  q.push(2);
  q.end(new Error("lost"));
  q.push(3); // ignored after the end
  assertEquals(await q.next(), { value: 1, done: false });
  assertEquals(await q.next(), { value: 2, done: false });
  await assertRejects(q.next(), /lost/);
  assertEquals(await q.next(), { value: undefined, done: true });
});

Deno.test("AsyncQueue: a waiting reader gets a push directly; overflow ends it with the error", async () => {
  const q = new AsyncQueue<number>({
    capacity: 2,
    overflow: () => new Error("overflow"),
  });
  const waiting = q.next();
  q.push(0);
  assertEquals(await waiting, { value: 0, done: false });
  q.push(1);
  q.push(2);
  q.push(3); // one too many: the queued items are dropped
  assert(q.ended);
  await assertRejects(q.next(), /overflow/);
});

Deno.test("AsyncQueue: high-water flow control, abort and return end it", async () => {
  const calls: string[] = [];
  const q = new AsyncQueue<number>({
    highWaterMark: 4,
    onHigh: () => calls.push("pause"),
    onLow: () => calls.push("resume"),
  });
  for (let i = 0; i < 6; i++) q.push(i);
  assertEquals(calls, ["pause"]);
  for (let i = 0; i < 4; i++) await q.next();
  assertEquals(calls, ["pause", "resume"]);

  const ac = new AbortController();
  let ended = 0;
  const aborted = new AsyncQueue<number>({
    signal: ac.signal,
    onEnd: () => ended++,
  });
  const pending = aborted.next();
  ac.abort();
  assertEquals(await pending, { value: undefined, done: true });
  assertEquals(ended, 1);

  const broken = new AsyncQueue<number>();
  broken.push(1);
  assertEquals(await broken.return(), { value: undefined, done: true });
  assertEquals(await broken.next(), { value: undefined, done: true });
});
