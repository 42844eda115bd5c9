// Turns the low-level failures of connecting to an engine (Deno's, node's,
// grpc-js' error objects and texts) into the contract's typed errors, in
// this one place, so that everything after the adaptor decides by class.
import {
  EngineError,
  type EngineErrorOptions,
  EngineNotFoundError,
  EnginePermissionError,
} from "./errors.ts";

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

/**
 * Throws {@linkcode EnginePermissionError} (naming the flags) when Deno's
 * permissions do not allow connecting to the unix socket `path`. Node's
 * socket code in Deno throws a missing permission outside any promise,
 * which would end the process: so check before connecting.
 */
export function assertSocketAccess(
  path: string,
  options: EngineErrorOptions = {},
): void {
  if (!path.startsWith("/")) return;
  if (
    !granted({ name: "read", path }) || !granted({ name: "write", path }) ||
    !granted({ name: "net", host: `unix:${path}` })
  ) {
    throw new EnginePermissionError(path, { ...options, deno: true });
  }
}

function textOf(error: unknown): string {
  if (typeof error !== "object" || error === null) return String(error);
  const e = error as { message?: unknown; details?: unknown; code?: unknown };
  return `${e.code ?? ""} ${e.message ?? ""} ${e.details ?? ""}`;
}

/**
 * The typed error for a failure to reach `endpoint`, or `undefined` when
 * the failure says nothing definite (refused, reset, timed out: the engine
 * may be restarting).
 */
export function connectFailure(
  endpoint: string,
  error: unknown,
  options: EngineErrorOptions = {},
): EngineError | undefined {
  if (error instanceof EngineError) return error;
  const opts = { ...options, cause: error };
  if (error instanceof Deno.errors.NotCapable) {
    return new EnginePermissionError(endpoint, { ...opts, deno: true });
  }
  const text = textOf(error);
  if (/NotCapable|Requires (read|write|net) access/.test(text)) {
    return new EnginePermissionError(endpoint, { ...opts, deno: true });
  }
  if (/\b(ENOENT|ENOTDIR)\b|no such file/i.test(text)) {
    return new EngineNotFoundError(endpoint, opts);
  }
  if (/\b(EACCES|EPERM)\b|permission denied/i.test(text)) {
    return new EnginePermissionError(endpoint, opts);
  }
  if (/\bENOTFOUND\b/.test(text)) {
    return new EngineNotFoundError(endpoint, {
      ...opts,
      detail: "the host name does not resolve",
    });
  }
  return undefined;
}
