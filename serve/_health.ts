// /healthz (internal): ok once every engine is in sync, else the reasons.
import type { Fleet } from "../mod.ts";
import { errorMessage } from "./_documents.ts";
import type { Hub } from "./_hub.ts";

/** The health document and whether it is healthy. */
export interface Health {
  ok: boolean;
  body: {
    status: "ok" | "unavailable";
    reasons?: string[];
    engines: { type: string; api: string; state: string; error?: string }[];
  };
}

/**
 * Healthy when the fleet has engines and each is `ready`; `settled` tells
 * whether the first discovery (and the engines' first sync) is over.
 */
export function health(fleet: Fleet, hub: Hub, settled: boolean): Health {
  const reasons: string[] = [];
  const engines = fleet.engines().map(({ engine, watcher, state }) => {
    const error = state === "ready" || watcher.lastError === undefined
      ? undefined
      : errorMessage(watcher.lastError);
    if (state !== "ready") {
      reasons.push(
        `${engine.type} at ${engine.api} is ${state}${
          error ? ` (last error: ${error})` : ""
        }`,
      );
    }
    return {
      type: engine.type,
      api: engine.api,
      state,
      ...(error === undefined ? {} : { error }),
    };
  });
  if (engines.length === 0) {
    if (!settled) reasons.push("discovering container engines");
    else {
      const tried = fleet.lastDiscovery.rejected.map((r) =>
        `${r.endpoint}: ${r.message}`
      ).join("; ");
      reasons.push(
        `no container engine found${tried ? ` (tried ${tried})` : ""}`,
      );
    }
  }
  if (hub.failure !== undefined) {
    reasons.push(
      `the agent stopped following the fleet: ${errorMessage(hub.failure)}`,
    );
  }
  const ok = reasons.length === 0;
  return {
    ok,
    body: {
      status: ok ? "ok" : "unavailable",
      ...(ok ? {} : { reasons }),
      engines,
    },
  };
}
