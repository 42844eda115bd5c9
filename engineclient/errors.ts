/**
 * Errors of the engine-client contract: one class for each condition that a
 * caller must tell apart. Adaptors throw them; the watcher and discovery
 * decide by class, never by message text. Messages start lower-case and
 * name the endpoint.
 *
 * @module
 */

/**
 * Inspecting a container failed because it has no process: it was created
 * but not started, or it is already gone. Usually a transient race between
 * listing (or an event) and inspecting; the watcher skips such containers.
 *
 * @example
 * ```ts
 * import { ProcesslessContainerError } from "@whalewatcher/whalewatcher";
 * const err = new ProcesslessContainerError("web", { engine: "docker.com" });
 * console.log(err.message);
 * // docker.com container "web" has no process
 * ```
 */
export class ProcesslessContainerError extends Error {
  /** Name or ID of the container. */
  readonly container: string;
  /** Engine type the container belongs to, when known. */
  readonly engine: string;

  /** Makes the error for a container given by name or ID. */
  constructor(
    container: string,
    options: { engine?: string; cause?: unknown } = {},
  ) {
    const engine = options.engine ?? "";
    super(
      `${engine ? engine + " " : ""}container "${container}" has no process`,
      { cause: options.cause },
    );
    this.name = "ProcesslessContainerError";
    this.container = container;
    this.engine = engine;
  }
}

/**
 * Tells whether an error is a {@linkcode ProcesslessContainerError}.
 *
 * @example
 * ```ts
 * import {
 *   isProcesslessContainerError,
 *   ProcesslessContainerError,
 * } from "@whalewatcher/whalewatcher";
 * console.log(isProcesslessContainerError(new ProcesslessContainerError("x"))); // true
 * console.log(isProcesslessContainerError(new Error("x"))); // false
 * ```
 */
export function isProcesslessContainerError(
  error: unknown,
): error is ProcesslessContainerError {
  return error instanceof ProcesslessContainerError;
}

/**
 * Options of every {@linkcode EngineError}.
 *
 * @example
 * ```ts
 * import type { EngineErrorOptions } from "@whalewatcher/whalewatcher";
 * const options: EngineErrorOptions = { engine: "docker.com" };
 * ```
 */
export interface EngineErrorOptions {
  /** Engine type string, when known. */
  engine?: string;
  /** The underlying failure. */
  cause?: unknown;
}

/**
 * Base class of the failures to reach or use an engine at an endpoint; the
 * subclasses tell which. `endpoint` is the socket path or URL.
 *
 * @example
 * ```ts
 * import { EngineError, EngineNotFoundError } from "@whalewatcher/whalewatcher";
 * const err = new EngineNotFoundError("/nope.sock");
 * console.log(err instanceof EngineError, err.endpoint); // true /nope.sock
 * ```
 */
export class EngineError extends Error {
  /** The endpoint (socket path or URL) the failure is about. */
  readonly endpoint: string;
  /** Engine type string, `""` when not known. */
  readonly engine: string;

  /** Makes the error; `message` should name the endpoint. */
  constructor(
    message: string,
    endpoint: string,
    options: EngineErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "EngineError";
    this.endpoint = endpoint;
    this.engine = options.engine ?? "";
  }
}

function engineWord(options: EngineErrorOptions): string {
  return options.engine ? `${options.engine} engine` : "engine";
}

/**
 * Nothing listens at the endpoint: no such socket file, or (for TCP) the
 * host cannot be resolved. Retrying does not help.
 *
 * @example
 * ```ts
 * import { EngineNotFoundError } from "@whalewatcher/whalewatcher";
 * console.log(new EngineNotFoundError("/nope.sock").message);
 * // no engine at "/nope.sock": no such socket
 * ```
 */
export class EngineNotFoundError extends EngineError {
  /** Makes the error for `endpoint`. */
  constructor(
    endpoint: string,
    options: EngineErrorOptions & { detail?: string } = {},
  ) {
    super(
      `no ${engineWord(options)} at "${endpoint}": ${
        options.detail ?? "no such socket"
      }`,
      endpoint,
      options,
    );
    this.name = "EngineNotFoundError";
  }
}

/**
 * The endpoint may not be opened: the operating system refused (the socket
 * belongs to root or a group such as `docker`), or Deno's permissions lack
 * read, write or net access to it (`deno` is then true).
 *
 * @example
 * ```ts
 * import { EnginePermissionError } from "@whalewatcher/whalewatcher";
 * const err = new EnginePermissionError("/run/docker.sock");
 * console.log(err.message.startsWith("permission denied")); // true
 * ```
 */
export class EnginePermissionError extends EngineError {
  /** Whether Deno's permissions (rather than the OS) refused. */
  readonly deno: boolean;

  /** Makes the error for `endpoint`. */
  constructor(
    endpoint: string,
    options: EngineErrorOptions & { deno?: boolean; advice?: string } = {},
  ) {
    const deno = options.deno ?? false;
    const path = endpoint.startsWith("/") ? endpoint : undefined;
    const advice = options.advice ??
      (deno
        ? path
          ? `grant --allow-read=${path} --allow-write=${path} --allow-net (Deno counts a unix socket as net access)`
          : "grant --allow-net for it"
        : 'run as a user who may open it (root, or the engine\'s group such as "docker")');
    super(
      `permission denied on "${endpoint}"${
        deno ? " by Deno's permissions" : ""
      }: ${advice}`,
      endpoint,
      options,
    );
    this.name = "EnginePermissionError";
    this.deno = deno;
  }
}

/**
 * Something answers at the endpoint, but it is not an engine of the
 * expected type (another protocol, another engine, garbage).
 *
 * @example
 * ```ts
 * import { NotAnEngineError } from "@whalewatcher/whalewatcher";
 * const err = new NotAnEngineError("/tmp/x.sock", { engine: "docker.com" });
 * console.log(err.message); // "/tmp/x.sock" does not answer as a docker.com engine
 * ```
 */
export class NotAnEngineError extends EngineError {
  /** Makes the error for `endpoint`. */
  constructor(
    endpoint: string,
    options: EngineErrorOptions & { detail?: string } = {},
  ) {
    super(
      `"${endpoint}" does not answer as a${
        options.engine ? ` ${options.engine}` : "n"
      } engine${options.detail ? `: ${options.detail}` : ""}`,
      endpoint,
      options,
    );
    this.name = "NotAnEngineError";
  }
}

/**
 * The engine at the endpoint is older than the adaptor supports.
 *
 * @example
 * ```ts
 * import { EngineTooOldError } from "@whalewatcher/whalewatcher";
 * const err = new EngineTooOldError("/run/docker.sock", {
 *   engine: "docker.com", version: "1.12", minimum: "1.24",
 * });
 * console.log(err.message);
 * ```
 */
export class EngineTooOldError extends EngineError {
  /** The version the engine reported. */
  readonly version: string;
  /** The oldest version the adaptor supports. */
  readonly minimum: string;

  /** Makes the error for `endpoint`. */
  constructor(
    endpoint: string,
    options: EngineErrorOptions & { version: string; minimum: string },
  ) {
    super(
      `${
        engineWord(options)
      } at "${endpoint}" is too old: it speaks ${options.version}, the adaptor needs at least ${options.minimum}`,
      endpoint,
      options,
    );
    this.name = "EngineTooOldError";
    this.version = options.version;
    this.minimum = options.minimum;
  }
}

/**
 * The engine's event stream ended or broke: the watcher resynchronizes.
 *
 * @example
 * ```ts
 * import { EventStreamEndedError } from "@whalewatcher/whalewatcher";
 * console.log(new EventStreamEndedError("/run/docker.sock").message);
 * // event stream of engine at "/run/docker.sock" ended
 * ```
 */
export class EventStreamEndedError extends EngineError {
  /** Makes the error for `endpoint`. */
  constructor(
    endpoint: string,
    options: EngineErrorOptions & { detail?: string } = {},
  ) {
    super(
      `event stream of ${engineWord(options)} at "${endpoint}" ended${
        options.detail ? `: ${options.detail}` : ""
      }`,
      endpoint,
      options,
    );
    this.name = "EventStreamEndedError";
  }
}

/**
 * The engine client was closed: calls in flight end with it, later calls
 * reject with it.
 *
 * @example
 * ```ts
 * import { ClientClosedError } from "@whalewatcher/whalewatcher";
 * console.log(new ClientClosedError("/run/docker.sock", { engine: "docker.com" }).message);
 * // docker.com client of "/run/docker.sock" is closed
 * ```
 */
export class ClientClosedError extends EngineError {
  /** Makes the error for `endpoint`. */
  constructor(endpoint: string, options: EngineErrorOptions = {}) {
    super(
      `${options.engine ?? "engine"} client of "${endpoint}" is closed`,
      endpoint,
      options,
    );
    this.name = "ClientClosedError";
  }
}

/**
 * Why a TLS connection to an engine failed:
 * - `"untrusted-server"`: the server's certificate is not signed by the
 *   trusted CA, expired, or made for another host name;
 * - `"client-certificate-rejected"`: the server refused the client's
 *   certificate, or the client sent none;
 * - `"plain-http-to-tls"`: the client spoke plain HTTP to a TLS port;
 * - `"tls-to-plain"`: the client spoke TLS to a plain HTTP port;
 * - `"handshake"`: another TLS handshake failure.
 *
 * @example
 * ```ts
 * import type { TlsFailure } from "@whalewatcher/whalewatcher";
 * const reason: TlsFailure = "untrusted-server";
 * ```
 */
export type TlsFailure =
  | "untrusted-server"
  | "client-certificate-rejected"
  | "plain-http-to-tls"
  | "tls-to-plain"
  | "handshake";

const TLS_ADVICE: Record<TlsFailure, string> = {
  "untrusted-server":
    "the server's certificate is not trusted (check the CA: DOCKER_CERT_PATH/ca.pem or the tls.ca option, and that the certificate names this host)",
  "client-certificate-rejected":
    "the server rejected the client certificate or got none (give cert.pem and key.pem signed by the server's CA: DOCKER_CERT_PATH or the tls option)",
  "plain-http-to-tls":
    "the server speaks TLS but the client spoke plain HTTP (set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH, or give the tls option)",
  "tls-to-plain":
    "the client spoke TLS but the server answers plain HTTP (unset DOCKER_TLS_VERIFY / DOCKER_CERT_PATH for this endpoint)",
  "handshake": "the TLS handshake failed",
};

/**
 * A TLS connection to the engine failed for a reason that retrying cannot
 * fix: untrusted server certificate, client certificate refused or missing,
 * or the two sides do not speak the same (plain or TLS) protocol.
 *
 * @example
 * ```ts
 * import { EngineTlsError } from "@whalewatcher/whalewatcher";
 * const err = new EngineTlsError("tcp://10.0.0.5:2376", { reason: "untrusted-server" });
 * console.log(err.reason, err.message.includes("tcp://10.0.0.5:2376")); // untrusted-server true
 * ```
 */
export class EngineTlsError extends EngineError {
  /** What failed. */
  readonly reason: TlsFailure;

  /** Makes the error for `endpoint`. */
  constructor(
    endpoint: string,
    options: EngineErrorOptions & { reason: TlsFailure; detail?: string },
  ) {
    super(
      `TLS with ${engineWord(options)} at "${endpoint}" failed: ${
        TLS_ADVICE[options.reason]
      }${options.detail ? ` (${options.detail})` : ""}`,
      endpoint,
      options,
    );
    this.name = "EngineTlsError";
    this.reason = options.reason;
  }
}

/**
 * Why an SSH host key was not accepted: the host is not in the known_hosts
 * file, its key differs from the one recorded there, or the key is marked
 * `@revoked`.
 *
 * @example
 * ```ts
 * import type { HostKeyFailure } from "@whalewatcher/whalewatcher";
 * const reason: HostKeyFailure = "unknown-host";
 * ```
 */
export type HostKeyFailure = "unknown-host" | "changed-key" | "revoked-key";

/**
 * An SSH host key check failed: the host is unknown, its key changed, or
 * the key is revoked. Retrying does not help; a person must check the
 * host's fingerprint and update the known_hosts file.
 *
 * @example
 * ```ts
 * import { EngineHostKeyError } from "@whalewatcher/whalewatcher";
 * const err = new EngineHostKeyError("ssh://me@build-1", {
 *   reason: "unknown-host", host: "build-1", knownHosts: "/home/me/.ssh/known_hosts",
 *   fingerprint: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", keyType: "ssh-ed25519",
 * });
 * console.log(err.reason); // unknown-host
 * ```
 */
export class EngineHostKeyError extends EngineError {
  /** What failed. */
  readonly reason: HostKeyFailure;
  /** The host as known_hosts names it (`host` or `[host]:port`). */
  readonly host: string;
  /** The known_hosts file checked. */
  readonly knownHosts: string;
  /** The offered key's fingerprint, `SHA256:…`. */
  readonly fingerprint: string;
  /** The offered key's type, such as `ssh-ed25519`. */
  readonly keyType: string;

  /** Makes the error for `endpoint`. */
  constructor(
    endpoint: string,
    options: EngineErrorOptions & {
      reason: HostKeyFailure;
      host: string;
      knownHosts: string;
      fingerprint: string;
      keyType: string;
      detail?: string;
    },
  ) {
    const key = `${options.keyType} key ${options.fingerprint}`;
    const why = options.reason === "unknown-host"
      ? `host "${options.host}" is not in ${options.knownHosts} (it offered the ${key}): check the fingerprint with the host's owner, then add the key, e.g. with ssh-keyscan`
      : options.reason === "changed-key"
      ? `the host key of "${options.host}" has CHANGED: ${options.knownHosts} has another ${options.keyType} key${
        options.detail ? ` (${options.detail})` : ""
      }, the host offered the ${key}; someone may be intercepting the connection, or the host was reinstalled`
      : `the host key of "${options.host}" (${key}) is marked @revoked in ${options.knownHosts}`;
    super(
      `SSH host key check for ${
        engineWord(options)
      } at "${endpoint}" failed: ${why}`,
      endpoint,
      options,
    );
    this.name = "EngineHostKeyError";
    this.reason = options.reason;
    this.host = options.host;
    this.knownHosts = options.knownHosts;
    this.fingerprint = options.fingerprint;
    this.keyType = options.keyType;
  }
}

/**
 * The engine's host refused our credentials: SSH authentication failed with
 * every key offered (agent, key file). Retrying does not help.
 *
 * @example
 * ```ts
 * import { EngineAuthError } from "@whalewatcher/whalewatcher";
 * const err = new EngineAuthError("ssh://me@build-1", { detail: "tried the agent's keys" });
 * console.log(err.message.startsWith("authentication")); // true
 * ```
 */
export class EngineAuthError extends EngineError {
  /** Makes the error for `endpoint`. */
  constructor(
    endpoint: string,
    options: EngineErrorOptions & { detail?: string } = {},
  ) {
    super(
      `authentication to ${engineWord(options)} at "${endpoint}" failed${
        options.detail ? `: ${options.detail}` : ""
      }`,
      endpoint,
      options,
    );
    this.name = "EngineAuthError";
  }
}

/**
 * Whether retrying cannot fix `error`: no engine at the endpoint, no
 * permission, not an engine of the type, too old, a TLS failure, an SSH
 * host key that is unknown or changed, or refused credentials. The watcher rejects
 * `ready` at once on such a first failure instead of retrying.
 *
 * @example
 * ```ts
 * import { EngineNotFoundError, isPermanentEngineError } from "@whalewatcher/whalewatcher";
 * console.log(isPermanentEngineError(new EngineNotFoundError("/x.sock"))); // true
 * console.log(isPermanentEngineError(new Error("connection refused"))); // false
 * ```
 */
export function isPermanentEngineError(error: unknown): error is EngineError {
  return error instanceof EngineNotFoundError ||
    error instanceof EnginePermissionError ||
    error instanceof NotAnEngineError ||
    error instanceof EngineTooOldError ||
    error instanceof EngineTlsError ||
    error instanceof EngineHostKeyError ||
    error instanceof EngineAuthError;
}
