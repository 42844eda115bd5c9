// The three built-in adaptors have the same shape: the same names for the
// same things, an environment variable each honours itself and declares
// for discovery, counters, disposal, and options typed through
// createWatcher.
import { assert, assertEquals } from "../_assert.ts";
import {
  createWatcher,
  type EngineAdapter,
  type EngineClient,
  engineRegistry,
  isPreflighter,
  isSummaryLister,
} from "../../mod.ts";
import {
  DEFAULT_DOCKER_ENDPOINT,
  DOCKER_ENDPOINT_ENV,
  dockerAdapter,
} from "../../docker.ts";
import {
  CONTAINERD_ENDPOINT_ENV,
  containerdAdapter,
  DEFAULT_CONTAINERD_ENDPOINT,
} from "../../containerd.ts";
import {
  CRI_ENDPOINT_ENV,
  criAdapter,
  DEFAULT_CRI_ENDPOINT,
} from "../../cri.ts";

const BUILT_INS: [EngineAdapter, string, string][] = [
  [dockerAdapter, DOCKER_ENDPOINT_ENV, DEFAULT_DOCKER_ENDPOINT],
  [containerdAdapter, CONTAINERD_ENDPOINT_ENV, DEFAULT_CONTAINERD_ENDPOINT],
  [criAdapter, CRI_ENDPOINT_ENV, DEFAULT_CRI_ENDPOINT],
];

async function withEnv<T>(
  name: string,
  value: string | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  const before = Deno.env.get(name);
  if (value === undefined) Deno.env.delete(name);
  else Deno.env.set(name, value);
  try {
    return await fn();
  } finally {
    if (before === undefined) Deno.env.delete(name);
    else Deno.env.set(name, before);
  }
}

for (const [adapter, env, fallback] of BUILT_INS) {
  Deno.test(`${adapter.type}: registered by the root module, declares its hints, honours ${env}`, async () => {
    assertEquals(engineRegistry.get(adapter.type), adapter);
    assertEquals(adapter.envVars, [env]);
    assert(adapter.socketPaths!.length > 0 && adapter.processNames!.length > 0);
    assert(typeof adapter.probe === "function");

    const fromEnv = await withEnv(
      env,
      "unix:///run/elsewhere/engine.sock",
      () => Promise.resolve(adapter.create()),
    );
    const byDefault = await withEnv(
      env,
      undefined,
      () => Promise.resolve(adapter.create()),
    );
    const explicit = await withEnv(
      env,
      "/run/ignored.sock",
      () => Promise.resolve(adapter.create("/run/given.sock")),
    );
    try {
      assertEquals(fromEnv.api, "/run/elsewhere/engine.sock");
      assertEquals(byDefault.api, fallback);
      assertEquals(explicit.api, "/run/given.sock");
      for (const client of [fromEnv, byDefault, explicit]) {
        assertEquals(client.type, adapter.type);
        assertEquals(client.stats, {
          ...client.stats,
          calls: 0,
          events: 0,
          skippedEvents: 0,
        });
        assert(Symbol.asyncDispose in client);
        // Cheap reconciliation and pre-flight checks for every built-in.
        assert(isSummaryLister(client) && isPreflighter(client));
      }
    } finally {
      for (const c of [fromEnv, byDefault, explicit]) await c.close();
    }
  });
}

Deno.test("createWatcher types an adaptor's options; a wrong option does not compile", async () => {
  // Compile-time checks: `deno check` of this file fails when the typing
  // breaks (an unused @ts-expect-error is an error too).
  const ctrd = containerdAdapter;
  const numbers = [1];
  const typed = () => [
    createWatcher(dockerAdapter, undefined, { engine: { concurrency: 4 } }),
    // @ts-expect-error: concurrency is a number
    createWatcher(dockerAdapter, undefined, { engine: { concurrency: "4" } }),
    createWatcher(criAdapter, undefined, { engine: { relist: true } }),
    // @ts-expect-error: relist is a boolean
    createWatcher(criAdapter, undefined, { engine: { relist: "yes" } }),
    createWatcher(ctrd, "", { engine: { ignoredNamespaces: ["moby"] } }),
    // @ts-expect-error: namespaces are strings
    createWatcher(ctrd, "", { engine: { ignoredNamespaces: numbers } }),
  ];
  assertEquals(typeof typed, "function");
  // And at run time the adaptor object makes the watcher.
  await using watcher = await createWatcher(dockerAdapter, "/run/x.sock", {
    engine: { concurrency: 2 },
  });
  const engine: EngineClient = watcher.engine;
  assertEquals([engine.type, engine.api], ["docker.com", "/run/x.sock"]);
});
