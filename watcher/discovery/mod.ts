/**
 * Engine discovery: finds candidate API endpoints (explicit endpoints, the
 * registered adaptors' environment variables and well-known socket paths,
 * a `/proc` scan of their engine processes), deduplicates them by the
 * socket's real identity, and probes each with the registered adaptors.
 * Discovery knows adaptors only through the registry, so a third-party
 * adaptor is found like a built-in.
 *
 * @example
 * ```ts ignore
 * import { discoverEngines } from "@whalewatcher/whalewatcher/discovery";
 * const { engines, rejected } = await discoverEngines();
 * for (const e of engines) console.log(e.type, e.endpoint, e.pid, e.version);
 * for (const r of rejected) console.log(r.endpoint, r.reason, r.message);
 * ```
 *
 * @module
 */

export * from "./types.ts";
export { engineCandidates } from "./candidates.ts";
export { discoverEngines } from "./discover.ts";
export { NoEngineFoundError, ProbeTimeoutError } from "./errors.ts";
