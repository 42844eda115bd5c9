// The adaptor registry, and watchers made from it for a third-party engine.

import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../_assert.ts";
import {
  type EngineOptions,
  EngineRegistry,
  engineRegistry,
  UnknownEngineTypeError,
} from "../../engineclient/mod.ts";
import { createWatcher, Watcher } from "../../watcher/mod.ts";
import { FakeEngine } from "./_fake_engine.ts";

Deno.test("registry: registering twice names the known types", () => {
  const registry = new EngineRegistry();
  registry.register({ type: "a.example", create: () => new FakeEngine() });
  registry.register({ type: "b.example", create: () => new FakeEngine() });
  assertThrows(
    () =>
      registry.register({ type: "a.example", create: () => new FakeEngine() }),
    (err: Error) => {
      assert(err.message.includes('"a.example"'));
      assert(err.message.includes('"b.example"'));
      return true;
    },
  );
  assertThrows(
    () => registry.register({ type: "", create: () => new FakeEngine() }),
    TypeError,
  );
});

Deno.test("registry: an unknown type is an error naming the known types", () => {
  const registry = new EngineRegistry();
  registry.register({ type: "a.example", create: () => new FakeEngine() });
  assertThrows(() => registry.get("nope"), (err: unknown) => {
    assert(err instanceof UnknownEngineTypeError);
    assertEquals(err.type, "nope");
    assertEquals(err.known, ["a.example"]);
    assert(
      err.message.includes('"nope"') && err.message.includes('"a.example"'),
    );
    return true;
  });
});

Deno.test("registry: lists types in registration order; unregister", () => {
  const registry = new EngineRegistry();
  for (const type of ["z.example", "a.example", "m.example"]) {
    registry.register({ type, create: () => new FakeEngine() });
  }
  assertEquals(registry.types(), ["z.example", "a.example", "m.example"]);
  assertEquals(registry.adapters().map((a) => a.type), registry.types());
  assert(registry.has("a.example"));
  assert(registry.unregister("a.example"));
  assert(!registry.has("a.example"));
  assertEquals(registry.types(), ["z.example", "m.example"]);
});

Deno.test("createWatcher: a third-party adaptor gives watchers like a built-in", async () => {
  const registry = new EngineRegistry();
  const created: { endpoint?: string; options?: EngineOptions }[] = [];
  const engine = new FakeEngine({ autoList: true });
  engine.add({ id: "third", name: "party" });
  registry.register({
    type: "thirdparty.example",
    create(endpoint, options) {
      created.push({ endpoint, options });
      return Promise.resolve(engine);
    },
  });
  await using watcher = await createWatcher(
    "thirdparty.example",
    "/tmp/third.sock",
    { registry, engine: { pid: 99 }, backoff: false, queueSize: 5 },
  );
  assert(watcher instanceof Watcher);
  assertEquals(created, [{
    endpoint: "/tmp/third.sock",
    options: { pid: 99 },
  }]);
  assertEquals(watcher.type, "fake.test");
  const sub = watcher.events();
  const controller = new AbortController();
  const watching = watcher.watch(controller.signal);
  await watcher.ready;
  assertEquals(watcher.portfolio.container("party")?.id, "third");
  assertEquals((await sub.next()).value?.type, "started");
  controller.abort();
  await watching;
});

Deno.test("createWatcher: unknown types reject, from the default registry too", async () => {
  await assertRejects(
    () => createWatcher("nope.example"),
    UnknownEngineTypeError,
  );
  await assertRejects(
    () =>
      createWatcher("nope.example", undefined, {
        registry: new EngineRegistry(),
      }),
    /registered types are none/,
  );
  assert(!engineRegistry.has("nope.example"));
});
