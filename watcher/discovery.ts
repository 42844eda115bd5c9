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

/** Well-known sockets of engines that have no adaptor of their own here. */
const WELL_KNOWN: readonly string[] = [
  "/run/docker.sock",
  "/var/run/docker.sock",
  "$XDG_RUNTIME_DIR/docker.sock",
  "~/.docker/run/docker.sock",
  "/run/user/$UID/docker.sock",
  "/run/containerd/containerd.sock",
  "/run/k3s/containerd/containerd.sock",
  "/run/k0s/containerd.sock",
  "/var/snap/microk8s/common/run/containerd.sock",
  "/var/run/crio/crio.sock",
  "/run/podman/podman.sock",
  "$XDG_RUNTIME_DIR/podman/podman.sock",
];

const PROCESS_NAMES = ["dockerd", "containerd", "crio", "podman"];

const ENV_VARS = [
  "DOCKER_HOST",
  "CONTAINERD_ADDRESS",
  "CONTAINER_RUNTIME_ENDPOINT",
];

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

  for (const name of ENV_VARS) {
    const value = env(name);
    if (value) await add(value, "env");
  }

  const adapters = registry.adapters();
  const paths = new Set(WELL_KNOWN);
  for (const a of adapters) for (const p of a.socketPaths ?? []) paths.add(p);
  for (const p of paths) {
    const path = expand(p, env);
    if (path && await exists(path)) await add(path, "well-known");
  }

  const names = new Set(PROCESS_NAMES);
  for (const a of adapters) for (const n of a.processNames ?? []) names.add(n);
  let processes: Awaited<ReturnType<typeof scanEngineProcesses>> = [];
  try {
    processes = await scanEngineProcesses(names, {
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
  const probers = registry.adapters().filter((a) => a.probe);
  const results = await Promise.all(candidates.map(async (candidate) => {
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
    if (engines.length) return { engines };
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
  return found;
}
