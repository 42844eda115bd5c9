/**
 * Recognizes a Docker API (dockerd, podman's Docker-compatible service) on
 * an endpoint with `GET /_ping`, without dockerode: node's HTTP client only.
 *
 * @module
 */

import * as http from "node:http";
import * as https from "node:https";
import {
  type CallOptions,
  EngineTooOldError,
  NotAnEngineError,
  type ProbeResult,
} from "../../engineclient/mod.ts";
import {
  assertSocketAccess,
  connectFailure,
  tlsFailure,
} from "../../engineclient/_failures.ts";
import {
  type DockerEndpoint,
  type DockerSshOptions,
  type DockerTlsOptions,
  parseDockerEndpoint,
} from "./endpoint.ts";
import type { SshSetup } from "./_ssh.ts";

/** How long a probe waits when the caller gives no signal. */
const PROBE_TIMEOUT_MS = 2000;

/**
 * The oldest Docker API version the adaptor supports (Docker 1.12): the
 * list and event filters it uses exist from there on.
 *
 * @example
 * ```ts
 * import { MIN_DOCKER_API_VERSION } from "@whalewatcher/whalewatcher/docker";
 * console.log(MIN_DOCKER_API_VERSION); // "1.24"
 * ```
 */
export const MIN_DOCKER_API_VERSION = "1.24";

/** What `GET /_ping` told: the API version, and podman's when it is podman. */
interface Ping {
  apiVersion: string;
  podmanVersion?: string;
}

/** Whether API version `a` (`"1.41"`) is older than `b`. */
export function olderApiVersion(a: string, b: string): boolean {
  const [aMajor, aMinor] = a.split(".").map(Number);
  const [bMajor, bMinor] = b.split(".").map(Number);
  return aMajor < bMajor ||
    (aMajor === bMajor && (aMinor ?? 0) < (bMinor ?? 0));
}

// A one-off request with its own agent, destroyed afterwards: nothing of
// the probe stays open.
function request(ep: DockerEndpoint, sshAgent?: http.Agent) {
  // The Host header names the server only for a socket: over TLS, node
  // checks the certificate against it.
  const common = {
    path: "/_ping",
    method: "GET",
    ...(ep.protocol === "https" ? {} : { headers: { host: "docker" } }),
  };
  if (sshAgent) {
    const agent = sshAgent;
    const req = http.request({
      ...common,
      host: ep.host,
      port: ep.port,
      agent,
    });
    return { req, agent };
  }
  if (ep.protocol === "https") {
    const agent = new https.Agent({ keepAlive: false });
    const req = https.request({
      ...common,
      host: ep.host,
      port: ep.port,
      ca: ep.ca,
      cert: ep.cert,
      key: ep.key,
      ...(ep.verify === false ? { rejectUnauthorized: false } : {}),
      agent,
    });
    return { req, agent };
  }
  const agent = new http.Agent({ keepAlive: false });
  const req = http.request({
    ...common,
    ...(ep.socketPath
      ? { socketPath: ep.socketPath }
      : { host: ep.host, port: ep.port }),
    agent,
  });
  return { req, agent };
}

/** Options of {@linkcode pingDocker}: the call's, and the SSH settings. */
export interface PingOptions extends CallOptions {
  /** Loaded SSH settings, for `ssh://` endpoints; loaded here when absent. */
  ssh?: SshSetup;
  /** SSH options to load them from. */
  sshOptions?: DockerSshOptions;
  /** Engine type for errors. */
  engine?: string;
}

/**
 * Pings the Docker API at `ep`: its versions, `null` when something else
 * answers; rejects with a typed error when the endpoint cannot be reached,
 * and with a plain error when it does not answer in time or refuses.
 */
export async function pingDocker(
  ep: DockerEndpoint,
  options: PingOptions = {},
): Promise<Ping | null> {
  const signal = options.signal ?? AbortSignal.timeout(PROBE_TIMEOUT_MS);
  const engine = options.engine ?? "docker.com";
  if (ep.socketPath) assertSocketAccess(ep.socketPath, { engine });
  let ssh = options.ssh;
  let sshAgent: http.Agent | undefined;
  if (ep.protocol === "ssh") {
    // Loaded only for SSH: a local probe stays light.
    const ssh2 = await import("./_ssh.ts");
    ssh ??= ssh2.prepareSsh(ep, options.sshOptions ?? {}, engine);
    sshAgent = ssh2.sshAgent(ep, ssh);
  }
  return await new Promise<Ping | null>((resolve, reject) => {
    if (signal.aborted) {
      reject(new Error(`probing "${ep.api}" timed out or was aborted`));
      return;
    }
    const { req, agent } = request(ep, sshAgent);
    const done = () => {
      signal.removeEventListener("abort", onAbort);
      agent.destroy();
    };
    const onAbort = () => {
      req.destroy();
      done();
      reject(new Error(`probing "${ep.api}" timed out after no answer`));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    req.on("response", (res) => {
      readPing(res, ep, engine).then(resolve, reject).finally(done);
    });
    req.on("error", (err: Error & { code?: string }) => {
      done();
      if (signal.aborted) return;
      const failure = pingFailure(err, ep, engine, ssh);
      if (failure) reject(failure);
      else resolve(null);
    });
    req.end();
  });
}

// A 200 with an API version header is a Docker API; any other answer is
// not, except a TLS server's 400 to a plain-HTTP client, which says so.
function readPing(
  res: http.IncomingMessage,
  ep: DockerEndpoint,
  engine: string,
): Promise<Ping | null> {
  const apiVersion = res.headers["api-version"];
  const podman = res.headers["libpod-api-version"];
  if (res.statusCode === 200 && (apiVersion || podman)) {
    res.resume();
    return Promise.resolve({
      apiVersion: String(apiVersion ?? ""),
      ...(podman ? { podmanVersion: String(podman) } : {}),
    });
  }
  return new Promise((resolve, reject) => {
    let body = "";
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      if (body.length < 512) body += chunk;
    });
    res.on("end", () => {
      const tls = res.statusCode === 400
        ? tlsFailure(ep.api, new Error(body.trim()), { engine })
        : undefined;
      if (tls) reject(tls);
      else resolve(null);
    });
    res.on("error", () => resolve(null));
  });
}

// What a failed ping means: a typed error, an error worth retrying, or
// (null) something that is not HTTP/1 Docker answered.
function pingFailure(
  err: Error & { code?: string },
  ep: DockerEndpoint,
  engine: string,
  ssh: SshSetup | undefined,
): Error | null {
  const typed = ssh
    ? ssh.classify(err)
    : connectFailure(ep.api, err, { engine });
  if (typed) return typed;
  // Refused: nobody listens (yet); the engine may be restarting. Over SSH,
  // a failure after the login is the remote side's (dockerd down,
  // forwarding refused): not a verdict on what answers either.
  if (
    /^(ECONNREFUSED|ETIMEDOUT)$/.test(err.code ?? "") || ep.protocol === "ssh"
  ) {
    return new Error(`cannot connect to "${ep.api}": ${err.message}`, {
      cause: err,
    });
  }
  // Reached, but what answered is not HTTP/1 Docker: it broke the
  // connection or answered garbage (gRPC, another protocol).
  return null;
}

/**
 * Tells whether a Docker API answers on `endpoint` (`GET /_ping`): a result
 * (type `"podman.io"` when the `Libpod-Api-Version` header says podman), or
 * `null` when something else answers; rejects when the endpoint cannot be
 * reached (`EngineNotFoundError`, `EnginePermissionError`) or does not
 * answer in time.
 *
 * @example
 * ```ts ignore
 * import { probeDocker } from "@whalewatcher/whalewatcher/docker";
 * console.log(await probeDocker("/run/docker.sock")); // { type: "docker.com", version: "1.41" }
 * ```
 */
export async function probeDocker(
  endpoint: string,
  options: CallOptions & {
    tls?: DockerTlsOptions | false;
    ssh?: DockerSshOptions;
  } = {},
): Promise<ProbeResult | null> {
  const ep = parseDockerEndpoint(endpoint, { tls: options.tls });
  const ping = await pingDocker(ep, {
    signal: options.signal,
    sshOptions: options.ssh,
  });
  if (!ping) return null;
  return ping.podmanVersion
    ? { type: "podman.io", version: ping.podmanVersion }
    : { type: "docker.com", version: ping.apiVersion };
}

/**
 * Checks that a usable Docker API answers at `ep`, as a watch's pre-flight:
 * rejects with `NotAnEngineError` when something else answers and with
 * `EngineTooOldError` below {@linkcode MIN_DOCKER_API_VERSION}.
 */
export async function checkDocker(
  ep: DockerEndpoint,
  options: PingOptions = {},
): Promise<Ping> {
  const ping = await pingDocker(ep, options);
  const engine = options.engine ?? "docker.com";
  if (!ping) {
    throw new NotAnEngineError(ep.api, {
      engine,
      detail: "GET /_ping gave no Docker API answer",
    });
  }
  if (
    ping.apiVersion && olderApiVersion(ping.apiVersion, MIN_DOCKER_API_VERSION)
  ) {
    throw new EngineTooOldError(ep.api, {
      engine,
      version: `API ${ping.apiVersion}`,
      minimum: `API ${MIN_DOCKER_API_VERSION}`,
    });
  }
  return ping;
}
