// The fleet with a third-party adaptor registered from user code: its
// engines are found by the adaptor's socket paths and process names like
// the built-ins', watched, and merged with engine attribution; an engine
// started later is picked up, one that vanished is dropped with `exited`
// events. The adaptor's engines are fakes (the adaptor is the subject).
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import {
  EnginePermissionError,
  EngineRegistry,
} from "../../engineclient/mod.ts";
import {
  Fleet,
  type FleetEngineEvent,
  type FleetEvent,
} from "../../watcher/fleet.ts";
import { NoEngineFoundError } from "../../watcher/discovery/mod.ts";
import { FakeEngine, type FakeStream } from "./_fake_engine.ts";

class ToyEngine extends FakeEngine {
  override readonly type = "toy.example";
  override readonly api: string;
  override readonly pid: number;
  constructor(api: string, pid: number) {
    super({ autoList: true });
    this.api = api;
    this.pid = pid;
  }
  override id(): Promise<string> {
    return Promise.resolve(`toy-${this.api.slice(-6)}`);
  }
}

/** The third-party adaptor, its sockets, and the engines made so far. */
async function toyWorld(dir: string) {
  const clients = new Map<string, ToyEngine>();
  const streams = new Map<string, Promise<FakeStream>>();
  const seeds = new Map<string, { id: string; name: string }[]>();
  /** Endpoints whose probes hang until aborted (a busy engine). */
  const stalled = new Set<string>();
  const registry = new EngineRegistry();
  registry.register({
    type: "toy.example",
    create: (endpoint, options) => {
      const engine = new ToyEngine(endpoint!, options?.pid ?? 0);
      for (const c of seeds.get(endpoint!) ?? []) engine.add(c);
      clients.set(endpoint!, engine);
      streams.set(endpoint!, engine.nextStream());
      return engine;
    },
    // A real connection: the engine answers only while its socket listens.
    probe: async (endpoint, options) => {
      const signal = options?.signal;
      if (stalled.has(endpoint)) {
        await new Promise((_, reject) =>
          signal?.addEventListener("abort", () => reject(signal.reason), {
            once: true,
          })
        );
      }
      const conn = await Deno.connect({ transport: "unix", path: endpoint });
      conn.close();
      return { version: "1.0" };
    },
    socketPaths: [`${dir}/a.sock`, `${dir}/b.sock`],
    processNames: ["toyd"],
  });

  // A fake procfs where "toyd" (PID 501) listens on a.sock.
  const proc = `${dir}/proc`;
  await Deno.mkdir(`${proc}/self`, { recursive: true });
  await Deno.symlink("/", `${proc}/self/root`);
  const listeners = new Map<string, Deno.UnixListener>();
  const listen = async (name: string, pid?: number) => {
    const path = `${dir}/${name}`;
    listeners.set(path, Deno.listen({ transport: "unix", path }));
    if (pid === undefined) return path;
    const inode = (await Deno.stat(path)).ino!;
    await Deno.mkdir(`${proc}/${pid}/fd`, { recursive: true });
    await Deno.mkdir(`${proc}/${pid}/net`, { recursive: true });
    await Deno.writeTextFile(`${proc}/${pid}/comm`, "toyd\n");
    await Deno.symlink("/", `${proc}/${pid}/root`);
    await Deno.symlink(`socket:[${inode}]`, `${proc}/${pid}/fd/3`);
    await Deno.writeTextFile(
      `${proc}/${pid}/net/unix`,
      `h\n0: 00000002 00000000 00010000 0001 01 ${inode} ${path}\n`,
    );
    return path;
  };
  const vanish = async (name: string, pid?: number) => {
    const path = `${dir}/${name}`;
    listeners.get(path)?.close();
    listeners.delete(path);
    await Deno.remove(path).catch(() => {});
    if (pid !== undefined) {
      await Deno.remove(`${proc}/${pid}`, { recursive: true });
    }
  };
  const closeAll = () => {
    for (const l of listeners.values()) l.close();
    listeners.clear();
  };
  return {
    registry,
    proc,
    clients,
    streams,
    seeds,
    stalled,
    listen,
    vanish,
    closeAll,
  };
}

function brief(e: FleetEvent) {
  return `${e.type} ${e.id} ${e.container.name} @${e.engine.type} ${
    e.engine.api.slice(-6)
  } pid=${e.engine.pid} id=${e.engine.id}`;
}

Deno.test("fleet: a third-party adaptor's engines are discovered, watched and merged; one started later is picked up, one that vanished is dropped with exited events", async () => {
  const dir = await Deno.makeTempDir();
  const world = await toyWorld(dir);
  try {
    const a = await world.listen("a.sock", 501);
    world.seeds.set(a, [{ id: "c1", name: "one" }]);

    const fleet = new Fleet({
      registry: world.registry,
      procRoot: world.proc,
      env: () => undefined,
      probeTimeoutMs: 1000,
    });
    const sub = fleet.events();
    try {
      await fleet.ready;
      assertEquals(fleet.engines().map((e) => e.engine), [
        {
          type: "toy.example",
          api: a,
          pid: 501,
          id: "toy-a.sock",
          version: "1.0",
        },
      ]);
      assertEquals(fleet.lastDiscovery.engines.map((e) => e.source), [
        "well-known",
      ]);
      assertEquals(
        fleet.containers().map((c) => [c.engine.api, c.container.name]),
        [[a, "one"]],
      );
      // Events carry their engine, from the initial sync on.
      const initial = await sub.next();
      assert(!initial.done);
      assertEquals(
        brief(initial.value),
        "started c1 one @toy.example a.sock pid=501 id=toy-a.sock",
      );
      await world.streams.get(a);
      world.clients.get(a)!.start({ id: "c9", name: "nine" });
      const first = await sub.next();
      assert(!first.done);
      assertEquals(
        brief(first.value),
        "started c9 nine @toy.example a.sock pid=501 id=toy-a.sock",
      );

      // An engine started later is picked up on rediscovery.
      const b = await world.listen("b.sock");
      world.seeds.set(b, [{ id: "c2", name: "two" }]);
      await fleet.rediscover();
      await fleet.engines().find((e) => e.engine.api === b)!.watcher.ready;
      assertEquals(
        fleet.engines().map((e) => e.engine.api).sort(),
        [a, b],
      );
      assert(
        fleet.containers().some((c) =>
          c.engine.api === b && c.container.id === "c2"
        ),
      );
      await world.streams.get(b);
      world.clients.get(b)!.start({ id: "c3", name: "three" });
      let next = await sub.next();
      // The initial sync of b may report its containers first.
      while (!next.done && next.value.id !== "c3") next = await sub.next();
      assert(!next.done);
      assertMatch(brief(next.value), /^started c3 three @toy\.example b\.sock/);

      // Engine a's socket and process vanish: it is dropped, and its
      // containers end with exited events attributed to it.
      await world.vanish("a.sock", 501);
      await fleet.rediscover();
      assertEquals(fleet.engines().map((e) => e.engine.api), [b]);
      assert(world.clients.get(a)!.closed > 0, "dropped client not closed");
      assertEquals(
        fleet.containers().map((c) => c.container.id).sort(),
        ["c2", "c3"],
      );
      assertEquals(fleet.lastDiscovery.rejected, []);
    } finally {
      await fleet.close();
    }
    // The drop's exited events were queued before rediscover() resolved;
    // closing ends the subscription after them.
    const rest: string[] = [];
    for await (const e of sub) rest.push(brief(e));
    assertEquals(rest.sort(), [
      "exited c1 one @toy.example a.sock pid=501 id=toy-a.sock",
      "exited c9 nine @toy.example a.sock pid=501 id=toy-a.sock",
    ]);
    assertEquals(
      [...world.clients.values()].every((c) => c.closed > 0),
      true,
    );
  } finally {
    world.closeAll();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fleet: explicit endpoints only probe nothing else; required without engines rejects ready with what was tried", async () => {
  const dir = await Deno.makeTempDir();
  const world = await toyWorld(dir);
  try {
    await world.listen("a.sock", 501);
    const b = await world.listen("b.sock");
    await using fleet = new Fleet({
      registry: world.registry,
      procRoot: world.proc,
      env: () => undefined,
      endpoints: [b],
      explicitOnly: true,
    });
    await fleet.ready;
    assertEquals(fleet.engines().map((e) => [e.engine.api, e.engine.pid]), [
      [b, 0],
    ]);
    assertEquals(fleet.lastDiscovery.engines.map((e) => e.source), [
      "explicit",
    ]);

    await using empty = new Fleet({
      registry: world.registry,
      endpoints: [`${dir}/missing.sock`],
      explicitOnly: true,
      required: true,
    });
    let error: unknown;
    await empty.ready.catch((err) => error = err);
    assert(error instanceof NoEngineFoundError, String(error));
    assertMatch(error.message, /missing\.sock \(explicit\): not-found/);
    assertEquals(empty.engines(), []);
  } finally {
    world.closeAll();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fleet: an engine that misses a probe deadline is kept while its process lives, dropped when it dies", async () => {
  const dir = await Deno.makeTempDir();
  const world = await toyWorld(dir);
  try {
    const a = await world.listen("a.sock", 501);
    world.seeds.set(a, [{ id: "c1", name: "one" }]);
    const fleet = new Fleet({
      registry: world.registry,
      procRoot: world.proc,
      env: () => undefined,
      probeTimeoutMs: 20,
    });
    const sub = fleet.events();
    try {
      await fleet.ready;
      world.stalled.add(a);
      await fleet.rediscover();
      assertEquals(
        fleet.lastDiscovery.rejected.map((r) => [r.endpoint, r.reason]),
        [[a, "timeout"]],
      );
      assertEquals(fleet.engines().map((e) => e.engine.api), [a]);
      assertEquals(world.clients.get(a)!.closed, 0);
      // The process dies; its socket file stays and still does not answer.
      await Deno.remove(`${world.proc}/501`, { recursive: true });
      await fleet.rediscover();
      assertEquals(fleet.engines(), []);
    } finally {
      await fleet.close();
    }
    const seen: string[] = [];
    for await (const e of sub) seen.push(brief(e));
    assertEquals(seen, [
      "started c1 one @toy.example a.sock pid=501 id=toy-a.sock",
      "exited c1 one @toy.example a.sock pid=501 id=toy-a.sock",
    ]);
  } finally {
    world.closeAll();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fleet: an engine whose watcher cannot be made is reported in lastDiscovery, not watched", async () => {
  const dir = await Deno.makeTempDir();
  const listener = Deno.listen({ transport: "unix", path: `${dir}/x.sock` });
  try {
    const registry = new EngineRegistry();
    registry.register({
      type: "broken.example",
      create: (endpoint) => {
        throw new Error(`no client for "${endpoint}"`);
      },
      probe: () => Promise.resolve({ version: "0" }),
    });
    await using fleet = new Fleet({
      registry,
      endpoints: [`${dir}/x.sock`],
      explicitOnly: true,
    });
    await fleet.ready;
    assertEquals(fleet.engines(), []);
    assertEquals(
      fleet.lastDiscovery.rejected.map((r) => [r.reason, r.message]),
      [[
        "error",
        `watching "${dir}/x.sock" as broken.example failed: no client for "${dir}/x.sock"`,
      ]],
    );
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fleet: an engine restarted on the same socket keeps its watcher; later events name the new PID", async () => {
  const dir = await Deno.makeTempDir();
  const world = await toyWorld(dir);
  try {
    const a = await world.listen("a.sock", 501);
    await using fleet = new Fleet({
      registry: world.registry,
      procRoot: world.proc,
      env: () => undefined,
    });
    const sub = fleet.events();
    await fleet.ready;
    assertEquals(fleet.engines().map((e) => e.engine.pid), [501]);
    const watcher = fleet.engines()[0].watcher;
    // The same socket, now served by process 502.
    await Deno.rename(`${world.proc}/501`, `${world.proc}/502`);
    await fleet.rediscover();
    assertEquals(fleet.engines().map((e) => [e.engine.pid, e.watcher]), [
      [502, watcher],
    ]);
    await world.streams.get(a);
    world.clients.get(a)!.start({ id: "c5", name: "five" });
    const next = await sub.next();
    assert(!next.done);
    assertEquals(
      brief(next.value),
      "started c5 five @toy.example a.sock pid=502 id=toy-a.sock",
    );
    await sub.return?.();
  } finally {
    world.closeAll();
    await Deno.remove(dir, { recursive: true });
  }
});

function line(e: FleetEvent | FleetEngineEvent): string {
  return "container" in e
    ? `${e.type} ${e.id}`
    : `${e.type} ${e.engine.api.slice(-6)}`;
}

Deno.test("fleet: engine changes come in order with the container events; a dropped engine's last exited is never followed by a start", async () => {
  const dir = await Deno.makeTempDir();
  const world = await toyWorld(dir);
  try {
    const a = await world.listen("a.sock", 501);
    world.seeds.set(a, [{ id: "c1", name: "one" }]);
    const fleet = new Fleet({
      registry: world.registry,
      procRoot: world.proc,
      env: () => undefined,
    });
    const sub = fleet.events({ engines: true });
    try {
      await fleet.ready;
      const engine = world.clients.get(a)!;
      await world.streams.get(a);
      // A start whose inspection is still running when the engine vanishes.
      engine.autoInspect = false;
      engine.start({ id: "c2", name: "two" });
      const inspect = await engine.nextInspect();
      await world.vanish("a.sock", 501);
      await fleet.rediscover();
      inspect.resolve(); // too late: the engine is gone
      await new Promise((r) => setTimeout(r, 0));
    } finally {
      await fleet.close();
    }
    const seen: string[] = [];
    for await (const e of sub) seen.push(line(e));
    assertEquals(seen, [
      "engine-added a.sock",
      "started c1",
      "engine-ready a.sock",
      "exited c1",
      "engine-removed a.sock",
    ]);
  } finally {
    world.closeAll();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fleet: an engine whose watch cannot start is failed at once; ready does not wait for it", async () => {
  const dir = await Deno.makeTempDir();
  const listener = Deno.listen({ transport: "unix", path: `${dir}/x.sock` });
  try {
    const registry = new EngineRegistry();
    registry.register({
      type: "refusing.example",
      create: (endpoint) =>
        new (class extends FakeEngine {
          preflight() {
            return Promise.reject(
              new EnginePermissionError(endpoint!, { engine: "refusing" }),
            );
          }
        })({ autoList: true }),
      probe: () => Promise.resolve({ version: "0" }),
    });
    await using fleet = new Fleet({
      registry,
      endpoints: [`${dir}/x.sock`],
      explicitOnly: true,
      readyTimeoutMs: 60_000, // ready must not wait for this
    });
    const sub = fleet.events({ engines: true });
    await fleet.ready;
    assertEquals(fleet.engines().map((e) => e.state), ["failed"]);
    const first = await sub.next();
    const second = await sub.next();
    assertEquals([first.value?.type, second.value?.type], [
      "engine-added",
      "engine-failed",
    ]);
    assert(
      (second.value as FleetEngineEvent).error instanceof EnginePermissionError,
    );
    await sub.return?.();
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});
