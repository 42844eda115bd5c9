// Nothing hangs: a first attempt that cannot succeed rejects `ready` at
// once with its typed error; an adaptor that ignores its signal can hold up
// neither a session nor close(); a watch that ended is not restarted
// half-way.
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import {
  type CallOptions,
  type Container,
  type ContainerEvent,
  EngineNotFoundError,
  EnginePermissionError,
  NotAnEngineError,
} from "../../engineclient/mod.ts";
import {
  AlreadyWatchingError,
  EngineStalledError,
  WatchEndedError,
  Watcher,
} from "../../watcher/mod.ts";
import { FakeEngine } from "./_fake_engine.ts";
import { waitFor } from "../engines/rig.ts";

const FAST = { backoff: { initialMs: 1, maxMs: 5, jitter: 0 } };

const never = <T>() => new Promise<T>(() => {});

// A fake engine whose chosen calls never settle and ignore their signal.
class StubbornEngine extends FakeEngine {
  stubborn = new Set<string>();
  preflightError: unknown;

  preflight(_options?: CallOptions): Promise<void> {
    if (this.preflightError) return Promise.reject(this.preflightError);
    return this.stubborn.has("preflight") ? never() : Promise.resolve();
  }

  override list(options?: CallOptions): Promise<Container[]> {
    return this.stubborn.has("list") ? never() : super.list(options);
  }

  override lifecycleEvents(
    options?: CallOptions,
  ): Promise<AsyncIterable<ContainerEvent>> {
    if (this.stubborn.has("subscribe")) return never();
    if (!this.stubborn.has("next")) return super.lifecycleEvents(options);
    return Promise.resolve({
      [Symbol.asyncIterator]: () => ({ next: () => never() }),
    });
  }

  override close(): Promise<void> {
    return this.stubborn.has("close") ? never() : super.close();
  }
}

for (
  const error of [
    new EngineNotFoundError("/no/such.sock"),
    new EnginePermissionError("/root-only.sock"),
    new NotAnEngineError("/garbage.sock", { engine: "fake.test" }),
  ]
) {
  Deno.test(`ready rejects at once, without retrying, on a first ${error.name}`, async () => {
    const engine = new StubbornEngine({ autoList: true });
    engine.preflightError = error;
    await using watcher = new Watcher(engine, FAST);
    await assertRejects(watcher.watch(), (e) => e === error);
    await assertRejects(watcher.ready, (e) => e === error);
    assertEquals(engine.calls.lifecycleEvents, undefined); // never got further
    assertEquals(watcher.state, "failed");
  });
}

Deno.test("a transient first failure keeps retrying; a permanent one after ready is retried too", async () => {
  const engine = new StubbornEngine({ autoList: true });
  engine.subscribeFailures = [
    new Error("connect ECONNREFUSED"),
    new Error("connect ECONNREFUSED"),
  ];
  await using watcher = new Watcher(engine, FAST);
  const watching = watcher.watch();
  await watcher.ready; // after two refusals
  assertEquals(engine.calls.lifecycleEvents, 3);
  // Once ready, even "no such socket" (the engine restarting) is retried.
  engine.subscribeFailures = [new EngineNotFoundError("/x.sock")];
  engine.stream!.fail();
  await waitFor(() => watcher.stats.resyncs === 1, { what: "resync" });
  await watcher.close();
  await watching;
});

for (const call of ["preflight", "subscribe", "list"]) {
  Deno.test(`a ${call} that ignores its signal is a stall: the session resyncs and close() ends`, async () => {
    const engine = new StubbornEngine({ autoList: true });
    engine.stubborn.add(call);
    await using watcher = new Watcher(engine, { ...FAST, stallTimeoutMs: 20 });
    const watching = watcher.watch();
    await waitFor(() => watcher.stats.stalls >= 2, { what: "stalls" });
    assert(watcher.lastError instanceof EngineStalledError);
    assertEquals(watcher.lastError.endpoint, engine.api);
    await watcher.close();
    await watching;
    assertEquals(watcher.state, "closed");
  });
}

Deno.test("an event stream whose next() ignores the abort cannot hold up close()", async () => {
  const engine = new StubbornEngine({ autoList: true });
  engine.stubborn.add("next");
  const watcher = new Watcher(engine, { ...FAST, stallTimeoutMs: 0 });
  const watching = watcher.watch();
  await watcher.ready;
  await watcher.close();
  await watching;
});

Deno.test("an engine client whose close() never returns cannot hold up the watcher's", async () => {
  const engine = new StubbornEngine({ autoList: true });
  engine.stubborn.add("close");
  const watcher = new Watcher(engine, { ...FAST, stallTimeoutMs: 30 });
  const watching = watcher.watch();
  await watcher.ready;
  await watcher.close(); // bounded by the stall timeout
  await watching;
});

Deno.test("watch() while watching and after the watch ended is refused with typed errors", async () => {
  const engine = new FakeEngine({ autoList: true });
  await using watcher = new Watcher(engine, FAST);
  const controller = new AbortController();
  const watching = watcher.watch(controller.signal);
  await watcher.ready;
  await assertRejects(watcher.watch(), AlreadyWatchingError);
  controller.abort();
  await watching;
  assertEquals(watcher.state, "stopped");
  await assertRejects(watcher.watch(), WatchEndedError);
});
