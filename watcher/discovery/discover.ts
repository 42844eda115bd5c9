/**
 * Probing candidates with the registered adaptors.
 *
 * @module
 */

import {
  type EngineAdapter,
  EngineAuthError,
  EngineHostKeyError,
  EngineNotFoundError,
  EnginePermissionError,
  engineRegistry,
  EngineTlsError,
  EngineTooOldError,
  NotAnEngineError,
} from "../../engineclient/mod.ts";
import { adaptersOf, engineCandidates } from "./candidates.ts";
import { NoEngineFoundError, ProbeTimeoutError } from "./errors.ts";
import type {
  DiscoveryOptions,
  DiscoveryResult,
  EngineCandidate,
  FoundEngine,
  RejectedCandidate,
  RejectionReason,
} from "./types.ts";

/** The default timeout of each probe, in milliseconds. */
const PROBE_TIMEOUT_MS = 2000;

/** Why a probe failed, by the failure's class. */
function classify(
  endpoint: string,
  error: unknown,
): { reason: RejectionReason; message: string } {
  const message = (error as Error)?.message ?? String(error);
  if (error instanceof EnginePermissionError) {
    return { reason: "permission-denied", message };
  }
  if (error instanceof EngineNotFoundError) {
    return { reason: "not-found", message };
  }
  if (error instanceof NotAnEngineError) {
    return { reason: "not-an-engine", message };
  }
  if (error instanceof EngineTooOldError) return { reason: "too-old", message };
  if (error instanceof EngineTlsError) return { reason: "tls", message };
  if (error instanceof EngineHostKeyError) {
    return { reason: "host-key", message };
  }
  if (error instanceof EngineAuthError) return { reason: "auth", message };
  if (error instanceof ProbeTimeoutError) return { reason: "timeout", message };
  return {
    reason: "error",
    message: `probing "${endpoint}" failed: ${message}`,
  };
}

/**
 * One probe, bounded by `timeoutMs`: a probe that ignores its signal is
 * not waited for. A failure after our timeout fired is a timeout, whatever
 * the probe says.
 */
async function probeOne(
  adapter: EngineAdapter,
  candidate: EngineCandidate,
  timeoutMs: number,
  signal?: AbortSignal,
) {
  const endpoint = candidate.endpoint;
  const timeout = new AbortController();
  const timer = setTimeout(
    () => timeout.abort(new ProbeTimeoutError(endpoint, timeoutMs)),
    timeoutMs,
  );
  const combined = signal
    ? AbortSignal.any([signal, timeout.signal])
    : timeout.signal;
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    onAbort = () => reject(combined.reason);
    combined.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([
      adapter.probe!(endpoint, {
        signal: combined,
        ...(candidate.options ? { engine: candidate.options } : {}),
      }),
      stopped,
    ]);
  } catch (err) {
    if (timeout.signal.aborted) throw timeout.signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
    combined.removeEventListener("abort", onAbort!);
    stopped.catch(() => {});
  }
}

/**
 * Says why a unix socket path cannot be an engine before any probe runs:
 * nothing there, or a file that is not a socket.
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

type Outcome = { engines: FoundEngine[]; error?: unknown };

async function probeWith(
  probers: readonly EngineAdapter[],
  candidate: EngineCandidate,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<Outcome> {
  const outcomes = await Promise.allSettled(
    probers.map((a) =>
      probeOne(a, candidate, options.timeoutMs, options.signal)
    ),
  );
  const engines: FoundEngine[] = [];
  let error: unknown;
  outcomes.forEach((outcome, i) => {
    if (outcome.status === "rejected") {
      error ??= outcome.reason;
    } else if (outcome.value) {
      engines.push({
        type: outcome.value.type ?? probers[i].type,
        adapter: probers[i].type,
        endpoint: candidate.endpoint,
        pid: candidate.pid,
        version: outcome.value.version,
        source: candidate.source,
        ...(candidate.options ? { options: candidate.options } : {}),
        ...(candidate.name ? { name: candidate.name } : {}),
      });
    }
  });
  return { engines, error };
}

/**
 * The adaptors whose hints named a candidate, and their siblings: adaptors
 * that share a socket path or process name with one of them (containerd's
 * socket serves `containerd.io` and `cri`, whichever hint named it).
 */
function hintedProbers(
  probers: readonly EngineAdapter[],
  types: readonly string[],
): EngineAdapter[] {
  const named = probers.filter((a) => types.includes(a.type));
  const shared = new Set(
    named.flatMap((a) => [...a.socketPaths ?? [], ...a.processNames ?? []]),
  );
  return probers.filter((a) =>
    types.includes(a.type) ||
    [...a.socketPaths ?? [], ...a.processNames ?? []].some((h) => shared.has(h))
  );
}

/**
 * Probes one candidate: first with the adaptors its hints point at; only
 * when none of them recognizes it, with the others too (so a Docker socket
 * is never probed over gRPC, and no gRPC code loads for it).
 */
async function probeCandidate(
  probers: readonly EngineAdapter[],
  candidate: EngineCandidate,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<Outcome> {
  const hinted = hintedProbers(probers, candidate.types);
  const first = await probeWith(hinted, candidate, options);
  if (first.engines.length > 0) return first;
  const rest = probers.filter((a) => !hinted.includes(a));
  const second = await probeWith(rest, candidate, options);
  return { engines: second.engines, error: first.error ?? second.error };
}

function wanted(e: FoundEngine, types: readonly string[] | undefined) {
  return !types || types.includes(e.type) || types.includes(e.adapter);
}

async function examine(
  candidate: EngineCandidate,
  probers: readonly EngineAdapter[],
  options: DiscoveryOptions,
): Promise<{ engines?: FoundEngine[]; rejected?: RejectedCandidate }> {
  const unusable = await checkSocket(candidate.endpoint);
  if (unusable) return { rejected: { ...candidate, ...unusable } };
  const { engines, error } = await probeCandidate(probers, candidate, {
    timeoutMs: options.probeTimeoutMs ?? PROBE_TIMEOUT_MS,
    signal: options.signal,
  });
  const kept = engines.filter((e) => wanted(e, options.types));
  if (kept.length) return { engines: kept };
  if (engines.length) {
    return {
      rejected: {
        ...candidate,
        reason: "excluded",
        message: `"${candidate.endpoint}" serves ${
          engines.map((e) => e.type).join(", ")
        }, not the asked ${options.types!.join(", ")}`,
      },
    };
  }
  if (error !== undefined) {
    return {
      rejected: { ...candidate, ...classify(candidate.endpoint, error), error },
    };
  }
  return {
    rejected: {
      ...candidate,
      reason: "not-an-engine",
      message:
        `no registered adaptor recognizes "${candidate.endpoint}" (tried ${
          probers.map((p) => p.type).join(", ")
        })`,
    },
  };
}

/**
 * Finds the engines on this machine: every candidate of
 * `engineCandidates` is probed by the registered adaptors, all candidates
 * in parallel, each probe with a short timeout. A containerd socket yields
 * both `containerd.io` and `cri`.
 *
 * @example
 * ```ts ignore
 * import { discoverEngines } from "@whalewatcher/whalewatcher/discovery";
 * const { engines, rejected } = await discoverEngines();
 * for (const e of engines) console.log(e.type, e.endpoint, e.pid);
 * for (const r of rejected) console.log(r.endpoint, r.reason, r.message);
 * ```
 */
export async function discoverEngines(
  options: DiscoveryOptions = {},
): Promise<DiscoveryResult> {
  const registry = options.registry ?? engineRegistry;
  const warnings: string[] = [];
  const candidates = await engineCandidates({ ...options, warnings });
  const probers = adaptersOf(registry, options.types).filter((a) => a.probe);
  const results = await Promise.all(
    candidates.map((c) => examine(c, probers, options)),
  );
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
