// A fleet of in-memory engines for the agent's race tests and benchmarks:
// the scripted fake engine registered under its own type in a private
// registry, found at `mem://NAME` endpoints like any third-party adaptor.
import { EngineRegistry } from "../../engineclient/mod.ts";
import { Fleet, type FleetOptions } from "../../watcher/fleet.ts";
import { FakeEngine, type FakeEngineOptions } from "../unit/_fake_engine.ts";

/** The fake engine under the type `mem.test`. */
export class MemEngine extends FakeEngine {
  override readonly type = "mem.test";
  override readonly api: string;
  constructor(api: string, options: FakeEngineOptions) {
    super(options);
    this.api = api;
  }
}

/** A fleet over in-memory engines, and the engines once made. */
export interface MemFleet {
  fleet: Fleet;
  engines: Map<string, MemEngine>;
  /** Resolves with the engine of `endpoint` once the fleet made it. */
  engine(endpoint: string): Promise<MemEngine>;
}

/**
 * Watches `endpoints` (default `mem://a`) with fake engines; `seed`
 * fills an engine's truth before the fleet lists it.
 */
export function memFleet(
  options: {
    endpoints?: string[];
    engine?: FakeEngineOptions;
    seed?: (engine: MemEngine) => void;
    fleet?: FleetOptions;
  } = {},
): MemFleet {
  const engines = new Map<string, MemEngine>();
  const waiting = new Map<string, ((e: MemEngine) => void)[]>();
  const registry = new EngineRegistry();
  registry.register({
    type: "mem.test",
    create: (endpoint) => {
      const engine = new MemEngine(
        endpoint!,
        options.engine ?? { autoList: true },
      );
      options.seed?.(engine);
      engines.set(endpoint!, engine);
      for (const resolve of waiting.get(endpoint!) ?? []) resolve(engine);
      waiting.delete(endpoint!);
      return engine;
    },
    probe: () => Promise.resolve({ version: "1.0" }),
  });
  const fleet = new Fleet({
    registry,
    endpoints: options.endpoints ?? ["mem://a"],
    explicitOnly: true,
    // The in-memory engines never stall; no reconciliation lists.
    watcher: { reconcileIntervalMs: 0 },
    ...options.fleet,
  });
  return {
    fleet,
    engines,
    engine: (endpoint) => {
      const made = engines.get(endpoint);
      if (made) return Promise.resolve(made);
      return new Promise((resolve) => {
        const list = waiting.get(endpoint) ?? [];
        list.push(resolve);
        waiting.set(endpoint, list);
      });
    },
  };
}
