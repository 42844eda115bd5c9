/**
 * Engine discovery: finds candidate API sockets (explicit endpoints,
 * environment, well-known paths, a `/proc` scan of engine processes),
 * deduplicates them by the socket's real identity, and probes each with the
 * registered adaptors.
 *
 * @module
 */

import {
  type EngineAdapter,
  type EngineRegistry,
  engineRegistry,
} from "../engineclient/mod.ts";
import { hintsOf } from "./_candidates.ts";
import { identity, scanEngineProcesses } from "./_procfs.ts";

/**
 * Where a candidate endpoint came from.
 *
 * @example
 * ```ts
 * import type { CandidateSource } from "@whalewatcher/whalewatcher";
 * const source: CandidateSource = "process";
 * ```
 */
export type CandidateSource = "explicit" | "env" | "well-known" | "process";

/**
 * An endpoint worth probing.
 *
 * @example
 * ```ts
 * import type { EngineCandidate } from "@whalewatcher/whalewatcher";
 * const c: EngineCandidate = { endpoint: "/run/docker.sock", source: "well-known", pid: 0 };
 * ```
 */
export interface EngineCandidate {
  /** Socket path or URL. */
  endpoint: string;
  /** Where it was found first. */
  source: CandidateSource;
  /** PID of the process listening on it, when the process scan found it; else 0. */
  pid: number;
}

/**
 * An engine found on an endpoint.
 *
 * @example
 * ```ts
 * import type { FoundEngine } from "@whalewatcher/whalewatcher";
 * const e: FoundEngine = {
 *   type: "docker.com", adapter: "docker.com", endpoint: "/run/docker.sock",
 *   pid: 812, source: "process",
 * };
 * ```
 */
export interface FoundEngine {
  /** Engine type to report (e.g. `"podman.io"`). */
  type: string;
  /** Registry type of the adaptor that serves it (e.g. `"docker.com"`). */
  adapter: string;
  /** The endpoint. */
  endpoint: string;
  /** PID of the engine process when known, else 0. */
  pid: number;
  /** Version the probe learnt, if any. */
  version?: string;
  /** Where the endpoint was found. */
  source: CandidateSource;
}

/**
 * Why a candidate was not taken.
 *
 * @example
 * ```ts
 * import type { RejectionReason } from "@whalewatcher/whalewatcher";
 * const reason: RejectionReason = "permission-denied";
 * ```
 */
export type RejectionReason =
  | "not-found"
  | "permission-denied"
  | "not-an-engine"
  | "timeout"
  | "excluded"
  | "error";

/**
 * A candidate that no adaptor took, and why.
 *
 * @example
 * ```ts
 * import type { RejectedCandidate } from "@whalewatcher/whalewatcher";
 * const r: RejectedCandidate = {
 *   endpoint: "/tmp/x.sock", source: "explicit", pid: 0,
 *   reason: "not-an-engine", message: "no registered adaptor recognizes \"/tmp/x.sock\"",
 * };
 * ```
 */
export interface RejectedCandidate extends EngineCandidate {
  /** The reason, as a keyword. */
  reason: RejectionReason;
  /** A message naming the endpoint and what to do. */
  message: string;
}

/**
 * What {@linkcode discoverEngines} found.
 *
 * @example
 * ```ts
 * import type { DiscoveryResult } from "@whalewatcher/whalewatcher";
 * const none: DiscoveryResult = { engines: [], rejected: [], warnings: [] };
 * ```
 */
export interface DiscoveryResult {
  /** Engines found, in candidate order; one socket may serve several types. */
  engines: FoundEngine[];
  /** Candidates no adaptor took. */
  rejected: RejectedCandidate[];
  /** What discovery could not do, such as the process scan without permission. */
  warnings: string[];
}

/**
 * Options of {@linkcode discoverEngines} and {@linkcode engineCandidates}.
 *
 * @example
 * ```ts
 * import type { DiscoveryOptions } from "@whalewatcher/whalewatcher";
 * const options: DiscoveryOptions = { endpoints: ["/run/docker.sock"], explicitOnly: true };
 * ```
 */
export interface DiscoveryOptions {
  /** Endpoints to try first (socket paths, `unix://`, `tcp://`). */
  endpoints?: readonly string[];
  /** Try only `endpoints`: no environment, well-known paths or process scan. */
  explicitOnly?: boolean;
  /** The registry whose adaptors probe; default {@linkcode engineRegistry}. */
  registry?: EngineRegistry;
  /**
   * Only these engine types are found; default all. Registry types (such
   * as `"docker.com"`) restrict the probing adaptors and the environment
   * variables, socket paths and process names that make candidates; a
   * reported type that no adaptor is registered under (such as
   * `"podman.io"`, served by `"docker.com"`) keeps every adaptor and
   * filters what they report. Engines of other types on a candidate reject
   * it as `"excluded"`.
   */
  types?: readonly string[];
  /** Reject with {@linkcode NoEngineFoundError} when no engine is found. */
  required?: boolean;
  /** Root of procfs; default `/proc`. */
  procRoot?: string;
  /** Environment lookup; default `Deno.env.get` (unset without permission). */
  env?: (name: string) => string | undefined;
  /** Timeout of each probe in milliseconds; default 2000. */
  probeTimeoutMs?: number;
  /** Aborts discovery. */
  signal?: AbortSignal;
  /** Collects what discovery could not do (see {@linkcode DiscoveryResult.warnings}). */
  warnings?: string[];
}

/** The registered adaptors that may report one of `types` (all when absent). */
function adaptersOf(
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

function wanted(e: FoundEngine, types: readonly string[] | undefined) {
  return !types || types.includes(e.type) || types.includes(e.adapter);
}

function defaultEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
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

/**
 * Lists the candidate endpoints in order — explicit, environment,
 * well-known paths (of this module and of every registered adaptor), then
 * the process scan — deduplicated by the socket's real identity (a path
 * through `/var/run` → `/run` is one socket); the process scan adds PIDs.
 *
 * @example
 * ```ts ignore
 * import { engineCandidates } from "@whalewatcher/whalewatcher";
 * for (const c of await engineCandidates()) console.log(c.source, c.endpoint, c.pid);
 * ```
 */
export async function engineCandidates(
  options: DiscoveryOptions = {},
): Promise<EngineCandidate[]> {
  const env = options.env ?? defaultEnv;
  const registry = options.registry ?? engineRegistry;
  const candidates: EngineCandidate[] = [];
  const byKey = new Map<string, EngineCandidate>();
  const add = async (endpoint: string, source: CandidateSource, pid = 0) => {
    const ep = normalize(endpoint);
    const key = ep.startsWith("/") ? (await identity(ep)) ?? ep : ep;
    const known = byKey.get(key);
    if (known) {
      if (!known.pid && pid) known.pid = pid;
      return;
    }
    const candidate = { endpoint: ep, source, pid };
    byKey.set(key, candidate);
    candidates.push(candidate);
  };

  for (const ep of options.endpoints ?? []) await add(ep, "explicit");
  if (options.explicitOnly) return candidates;

  const hints = hintsOf(adaptersOf(registry, options.types));
  for (const name of hints.env) {
    const value = env(name);
    if (value) await add(value, "env");
  }

  for (const p of hints.socketPaths) {
    const path = expand(p, env);
    if (path && await exists(path)) await add(path, "well-known");
  }

  const names = new Set(hints.processNames);
  let processes: Awaited<ReturnType<typeof scanEngineProcesses>> = [];
  try {
    if (names.size) {
      processes = await scanEngineProcesses(names, {
        procRoot: options.procRoot,
      });
    }
  } catch (err) {
    options.warnings?.push(
      `process scan of ${
        options.procRoot ?? "/proc"
      } skipped: Deno allows reading /proc only with --allow-all (${
        (err as Error).message
      })`,
    );
  }
  for (const proc of processes) {
    for (const socket of proc.sockets) await add(socket, "process", proc.pid);
  }
  return candidates;
}

function classify(
  endpoint: string,
  error: unknown,
): { reason: RejectionReason; message: string } {
  const text = String((error as Error)?.message ?? error);
  if (
    error instanceof Deno.errors.NotCapable || /NotCapable|--allow-/.test(text)
  ) {
    return {
      reason: "permission-denied",
      message:
        `no Deno permission to open "${endpoint}": grant --allow-read=${endpoint} --allow-write=${endpoint} --allow-net=unix:${endpoint}`,
    };
  }
  if (/EACCES|EPERM|permission denied/i.test(text)) {
    return {
      reason: "permission-denied",
      message:
        `permission denied on "${endpoint}": run as a user who may open it (root, or the engine's group such as "docker")`,
    };
  }
  if (/ENOENT|no such file/i.test(text)) {
    return { reason: "not-found", message: `no socket at "${endpoint}"` };
  }
  if (/timed? ?out|deadline|TimeoutError/i.test(text)) {
    return {
      reason: "timeout",
      message: `"${endpoint}" did not answer in time`,
    };
  }
  return { reason: "error", message: `probing "${endpoint}" failed: ${text}` };
}

async function probeOne(
  adapter: EngineAdapter,
  endpoint: string,
  timeoutMs: number,
  signal?: AbortSignal,
) {
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  // The probe's own timeout handling is trusted, but never waited past ours.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`probe of "${endpoint}" timed out`)),
      timeoutMs + 500,
    );
  });
  try {
    return await Promise.race([
      adapter.probe!(endpoint, { signal: combined }),
      guard,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Finds the engines on this machine: every candidate of
 * {@linkcode engineCandidates} is probed by every registered adaptor that
 * has a probe, all in parallel, each with a short timeout. A containerd
 * socket yields both `containerd.io` and `cri`.
 *
 * @example
 * ```ts ignore
 * import { discoverEngines } from "@whalewatcher/whalewatcher";
 * const { engines, rejected } = await discoverEngines();
 * for (const e of engines) console.log(e.type, e.endpoint, e.pid);
 * for (const r of rejected) console.log(r.endpoint, r.reason, r.message);
 * ```
 */
export async function discoverEngines(
  options: DiscoveryOptions = {},
): Promise<DiscoveryResult> {
  const registry = options.registry ?? engineRegistry;
  const timeoutMs = options.probeTimeoutMs ?? 2000;
  const warnings: string[] = [];
  const candidates = await engineCandidates({ ...options, warnings });
  const probers = adaptersOf(registry, options.types).filter((a) => a.probe);
  const results = await Promise.all(candidates.map(async (candidate) => {
    const unusable = await checkSocket(candidate.endpoint);
    if (unusable) return { rejected: { ...candidate, ...unusable } };
    const outcomes = await Promise.allSettled(
      probers.map((a) =>
        probeOne(a, candidate.endpoint, timeoutMs, options.signal)
      ),
    );
    const engines: FoundEngine[] = [];
    let firstError: unknown;
    outcomes.forEach((outcome, i) => {
      if (outcome.status === "rejected") {
        firstError ??= outcome.reason;
      } else if (outcome.value) {
        engines.push({
          type: outcome.value.type ?? probers[i].type,
          adapter: probers[i].type,
          endpoint: candidate.endpoint,
          pid: candidate.pid,
          version: outcome.value.version,
          source: candidate.source,
        });
      }
    });
    const kept = engines.filter((e) => wanted(e, options.types));
    if (kept.length) return { engines: kept };
    if (engines.length) {
      return {
        rejected: {
          ...candidate,
          reason: "excluded" as const,
          message: `"${candidate.endpoint}" serves ${
            engines.map((e) => e.type).join(", ")
          }, not the asked ${options.types!.join(", ")}`,
        },
      };
    }
    const { reason, message } = firstError !== undefined
      ? classify(candidate.endpoint, firstError)
      : {
        reason: "not-an-engine" as const,
        message:
          `no registered adaptor recognizes "${candidate.endpoint}" (tried ${
            probers.map((p) => p.type).join(", ")
          })`,
      };
    return { rejected: { ...candidate, reason, message } };
  }));
  const found: DiscoveryResult = { engines: [], rejected: [], warnings };
  for (const r of results) {
    if (r.engines) found.engines.push(...r.engines);
    else if (r.rejected) found.rejected.push(r.rejected);
  }
  if (options.required && found.engines.length === 0) {
    throw new NoEngineFoundError(found, {
      registered: probers.map((p) => p.type),
    });
  }
  return found;
}

/**
 * Says why a unix socket path cannot be an engine before any probe runs:
 * nothing there, no permission to look, or a file that is not a socket.
 */
async function checkSocket(
  endpoint: string,
): Promise<{ reason: RejectionReason; message: string } | undefined> {
  if (!endpoint.startsWith("/")) return undefined; // tcp://, npipe, ...
  try {
    const info = await Deno.stat(endpoint);
    if (info.isSocket === false) {
      return {
        reason: "not-an-engine",
        message: `"${endpoint}" is not a socket`,
      };
    }
    return undefined;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      return { reason: "not-found", message: `no socket at "${endpoint}"` };
    }
    // Permission problems are reported by the probes, with their advice.
    return undefined;
  }
}

/**
 * No engine was found: the message lists every candidate tried and why it
 * was rejected, and what discovery could not do.
 *
 * @example
 * ```ts ignore
 * import { discoverEngines, NoEngineFoundError } from "@whalewatcher/whalewatcher";
 * try {
 *   await discoverEngines({ required: true });
 * } catch (err) {
 *   if (err instanceof NoEngineFoundError) console.error(err.message);
 * }
 * ```
 */
export class NoEngineFoundError extends Error {
  /** The candidates that were tried, with the reasons. */
  readonly rejected: readonly RejectedCandidate[];
  /** What discovery could not do. */
  readonly warnings: readonly string[];

  /** Makes the error from what discovery found. */
  constructor(
    result: Pick<DiscoveryResult, "rejected" | "warnings">,
    options: { registered?: readonly string[] } = {},
  ) {
    const tried = result.rejected.map((r) =>
      `\n  ${r.endpoint} (${r.source}): ${r.reason}: ${r.message}`
    ).join("");
    const notes = result.warnings.map((w) => `\n  note: ${w}`).join("");
    const registered = options.registered
      ? ` with adaptors ${options.registered.join(", ") || "(none)"}`
      : "";
    super(
      `no container engine found${registered}; ${
        tried ? `tried:${tried}` : "no candidate endpoint"
      }${notes}`,
    );
    this.name = "NoEngineFoundError";
    this.rejected = result.rejected;
    this.warnings = result.warnings;
  }
}
