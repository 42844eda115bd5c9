// Turns the low-level failures of connecting to an engine (Deno's, node's,
// grpc-js' error objects and texts) into the contract's typed errors, in
// this one place, so that everything after the adaptor decides by class.
import {
  EngineError,
  type EngineErrorOptions,
  EngineNotFoundError,
  EnginePermissionError,
  EngineTlsError,
  type TlsFailure,
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

// Node's (and Deno's rustls-based node:tls) codes and texts of TLS failures.
const TLS_FAILURES: [RegExp, TlsFailure][] = [
  [
    /\b(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|CERT_SIGNATURE_FAILURE|ERR_TLS_CERT_ALTNAME_INVALID|CERT_UNTRUSTED)\b|invalid peer certificate/,
    "untrusted-server",
  ],
  [
    /ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED|UNKNOWN_CA|CERTIFICATE_UNKNOWN|HANDSHAKE_FAILURE)\b|alert: (BadCertificate|CertificateRequired|UnknownCA|CertificateUnknown)/,
    "client-certificate-rejected",
  ],
  [
    /Client sent an HTTP request to an HTTPS server/,
    "plain-http-to-tls",
  ],
  [
    /\bERR_SSL_WRONG_VERSION_NUMBER\b|wrong version number|InvalidContentType/,
    "tls-to-plain",
  ],
];

/**
 * The {@linkcode EngineTlsError} for a TLS failure text (node's error codes
 * and messages, Deno's too), or `undefined` when `error` is none.
 */
export function tlsFailure(
  endpoint: string,
  error: unknown,
  options: EngineErrorOptions = {},
): EngineTlsError | undefined {
  const text = textOf(error);
  for (const [pattern, reason] of TLS_FAILURES) {
    const m = pattern.exec(text);
    if (m) {
      return new EngineTlsError(endpoint, {
        ...options,
        cause: error,
        reason,
        detail: ((error as Error)?.message ?? m[0]).trim(),
      });
    }
  }
  return undefined;
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
  const tls = tlsFailure(endpoint, error, options);
  if (tls) return tls;
  if (/\bENOTFOUND\b/.test(text)) {
    return new EngineNotFoundError(endpoint, {
      ...opts,
      detail: "the host name does not resolve",
    });
  }
  return undefined;
}
