/**
 * Candidate endpoints: explicit ones, then what the registered adaptors'
 * hints name (environment variables, well-known socket paths, process
 * names found by a `/proc` scan), deduplicated by the socket's identity.
 *
 * @module
 */

import {
  type EngineAdapter,
  type EngineOptions,
  type EngineRegistry,
  engineRegistry,
} from "../../engineclient/mod.ts";
import { envValue } from "../../engineclient/_env.ts";
import { identity, scanEngineProcesses } from "./_procfs.ts";
import type {
  CandidateSource,
  DiscoveryOptions,
  EngineCandidate,
} from "./types.ts";

/** The registered adaptors that may report one of `types` (all when absent). */
export function adaptersOf(
  registry: EngineRegistry,
  types: readonly string[] | undefined,
): EngineAdapter[] {
  const all = registry.adapters();
  if (!types) return all;
  // A reported type such as "podman.io" is not a registry type: any
  // adaptor may report it.
  if (types.some((t) => !registry.has(t))) return all;
  return all.filter((a) => types.includes(a.type));
}

function uid(): number | undefined {
  try {
    return Deno.uid() ?? undefined;
  } catch {
    return undefined;
  }
}

/** Expands `$XDG_RUNTIME_DIR`, `$UID` and `~`; undefined when one is unknown. */
function expand(
  path: string,
  env: (name: string) => string | undefined,
): string | undefined {
  let out = path;
  if (out.startsWith("~/")) {
    const home = env("HOME");
    if (!home) return undefined;
    out = home + out.slice(1);
  }
  if (out.includes("$XDG_RUNTIME_DIR")) {
    const xdg = env("XDG_RUNTIME_DIR");
    if (!xdg) return undefined;
    out = out.replace("$XDG_RUNTIME_DIR", xdg);
  }
  if (out.includes("$UID")) {
    const u = uid();
    if (u === undefined) return undefined;
    out = out.replace("$UID", String(u));
  }
  return out;
}

/** `unix:///x` → `/x`; other endpoints unchanged. */
function normalize(endpoint: string): string {
  return endpoint.startsWith("unix://")
    ? endpoint.slice("unix://".length)
    : endpoint;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

// Candidates in order of discovery, one per socket identity.
class CandidateList {
  readonly list: EngineCandidate[] = [];
  #byKey = new Map<string, EngineCandidate>();

  async add(
    endpoint: string,
    source: CandidateSource,
    options: {
      pid?: number;
      types?: readonly string[];
      options?: EngineOptions;
      name?: string;
    } = {},
  ): Promise<void> {
    const ep = normalize(endpoint);
    const key = ep.startsWith("/") ? (await identity(ep)) ?? ep : ep;
    const known = this.#byKey.get(key);
    if (known) {
      if (!known.pid && options.pid) known.pid = options.pid;
      // An explicit endpoint stays open to every adaptor.
      if (known.source !== "explicit") {
        for (const t of options.types ?? []) {
          if (!known.types.includes(t)) known.types.push(t);
        }
      }
      return;
    }
    const candidate: EngineCandidate = {
      endpoint: ep,
      source,
      pid: options.pid ?? 0,
      types: [...(options.types ?? [])],
      ...(options.options ? { options: options.options } : {}),
      ...(options.name ? { name: options.name } : {}),
    };
    this.#byKey.set(key, candidate);
    this.list.push(candidate);
  }
}

/** Adaptor types by hint value: which adaptors name a variable, path, process. */
function hintIndex(
  adapters: readonly EngineAdapter[],
  pick: (a: EngineAdapter) => readonly string[] | undefined,
): Map<string, string[]> {
  const index = new Map<string, string[]>();
  for (const a of adapters) {
    for (const value of pick(a) ?? []) {
      const types = index.get(value);
      if (types) types.push(a.type);
      else index.set(value, [a.type]);
    }
  }
  return index;
}

async function scanProcesses(
  names: Map<string, string[]>,
  candidates: CandidateList,
  options: DiscoveryOptions,
): Promise<void> {
  if (names.size === 0) return;
  let processes: Awaited<ReturnType<typeof scanEngineProcesses>>;
  try {
    processes = await scanEngineProcesses(new Set(names.keys()), {
      procRoot: options.procRoot,
    });
  } catch (err) {
    options.warnings?.push(
      `process scan of ${
        options.procRoot ?? "/proc"
      } skipped: Deno allows reading /proc only with --allow-all (${
        (err as Error).message
      })`,
    );
    return;
  }
  for (const proc of processes) {
    for (const socket of proc.sockets) {
      await candidates.add(socket, "process", {
        pid: proc.pid,
        types: names.get(proc.name),
      });
    }
  }
}

// The endpoints the adaptors' own configurations name (docker contexts,
// podman connections): the current ones, or those named in `contexts`.
async function configured(
  adapters: readonly EngineAdapter[],
  candidates: CandidateList,
  options: DiscoveryOptions & { env: (name: string) => string | undefined },
): Promise<void> {
  for (const a of adapters) {
    if (!a.configuredEndpoints) continue;
    const warnings: string[] = [];
    let specs: Awaited<
      ReturnType<NonNullable<EngineAdapter["configuredEndpoints"]>>
    >;
    try {
      specs = await a.configuredEndpoints({
        env: options.env,
        names: options.contexts,
        warnings,
      });
    } catch (err) {
      warnings.push(`${a.type}: ${(err as Error)?.message ?? err}`);
      specs = [];
    }
    options.warnings?.push(...warnings);
    for (const spec of specs) {
      await candidates.add(spec.endpoint, "config", {
        types: [a.type],
        options: spec.options,
        name: spec.name,
      });
    }
  }
}

/**
 * Lists the candidate endpoints in order — explicit, then the registered
 * adaptors' environment variables, their configured endpoints (the current
 * docker context, podman's default connection, or the `contexts` named),
 * well-known paths and the process scan —
 * deduplicated by the socket's real identity (a path through `/var/run` →
 * `/run` is one socket); the process scan adds PIDs. Each candidate names
 * the adaptor types whose hints found it.
 *
 * @example
 * ```ts ignore
 * import { engineCandidates } from "@whalewatcher/whalewatcher/discovery";
 * for (const c of await engineCandidates()) console.log(c.source, c.endpoint, c.pid);
 * ```
 */
export async function engineCandidates(
  options: DiscoveryOptions = {},
): Promise<EngineCandidate[]> {
  const env = options.env ?? envValue;
  const candidates = new CandidateList();
  for (const ep of options.endpoints ?? []) {
    if (typeof ep === "string") await candidates.add(ep, "explicit");
    else {
      await candidates.add(ep.endpoint, "explicit", {
        options: ep.options,
        name: ep.name,
      });
    }
  }
  const adapters = adaptersOf(
    options.registry ?? engineRegistry,
    options.types,
  );
  if (options.explicitOnly) {
    if (options.contexts?.length) {
      await configured(adapters, candidates, { ...options, env });
    }
    return candidates.list;
  }
  for (const [name, types] of hintIndex(adapters, (a) => a.envVars)) {
    const value = env(name);
    if (value) await candidates.add(value, "env", { types });
  }
  await configured(adapters, candidates, { ...options, env });
  const paths = hintIndex(adapters, (a) => a.socketPaths);
  for (const [p, types] of paths) {
    const path = expand(p, env);
    if (path && await exists(path)) {
      await candidates.add(path, "well-known", { types });
    }
  }
  await scanProcesses(
    hintIndex(adapters, (a) => a.processNames),
    candidates,
    options,
  );
  return candidates.list;
}
