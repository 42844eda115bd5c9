// SSH settings of ssh:// Docker endpoints (internal): credentials (agent,
// key file), host key checking against a known_hosts file, the Deno
// permissions they need (checked first: ssh2's agent code throws a missing
// permission outside any promise), and the typed errors of SSH failures.
import * as http from "node:http";
import type { Duplex } from "node:stream";
import ssh2 from "ssh2";
import {
  EngineAuthError,
  type EngineError,
  EngineHostKeyError,
  EnginePermissionError,
} from "../../engineclient/mod.ts";
import { connectFailure } from "../../engineclient/_failures.ts";
import { envValue } from "../../engineclient/_env.ts";
import {
  checkHostKey,
  fingerprint,
  keyTypeOf,
  knownHostName,
  type KnownKey,
  knownKeys,
  preferredHostKeyAlgorithms,
} from "./_known_hosts.ts";
import type { DockerEndpoint, DockerSshOptions } from "./endpoint.ts";

const HOST_KEY_ALGORITHMS = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa",
];

// OpenSSH's default identities, tried when there is no agent and no key file.
const DEFAULT_IDENTITIES = ["id_ed25519", "id_ecdsa", "id_rsa"];

/** The connection settings of one ssh:// endpoint, checked and loaded. */
export interface SshSetup {
  /** ssh2's connect options (without host, port and user). */
  sshOptions: Record<string, unknown>;
  /** The typed error for a failure of an SSH connection, if it has one. */
  classify(error: unknown): EngineError | undefined;
}

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

function readFile(
  path: string,
  what: string,
  ep: DockerEndpoint,
  engine: string,
): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    if (err instanceof Deno.errors.NotCapable) {
      throw new EnginePermissionError(ep.api, {
        engine,
        deno: true,
        cause: err,
        advice: `grant --allow-read=${path} (the ${what})`,
      });
    }
    throw new EngineAuthError(ep.api, {
      engine,
      cause: err,
      detail: `cannot read the ${what} "${path}": ${(err as Error).message}`,
    });
  }
}

// What one endpoint's setup works with: the endpoint, the engine type for
// errors, the options, and the credentials tried so far (for the error of
// a refused login).
interface SshContext {
  ep: DockerEndpoint;
  engine: string;
  options: DockerSshOptions;
  home: string | undefined;
  tried: string[];
}

function checkNetPermission(ctx: SshContext, port: number): void {
  const host = ctx.ep.host!;
  const hostPort = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  if (!granted({ name: "net", host: hostPort })) {
    throw new EnginePermissionError(ctx.ep.api, {
      engine: ctx.engine,
      deno: true,
      advice: `grant --allow-net=${hostPort}`,
    });
  }
}

// The agent's socket, when there is one Deno may use.
function agentSocket(ctx: SshContext): string | undefined {
  const agent = ctx.options.agent === false
    ? undefined
    : ctx.options.agent ?? envValue("SSH_AUTH_SOCK");
  if (!agent) return undefined;
  // Without Deno's permission for the agent's socket, ssh2's agent code
  // would throw outside any promise: skip the agent, and say so if the
  // host refuses the other keys.
  if (
    granted({ name: "read", path: agent }) &&
    granted({ name: "write", path: agent })
  ) {
    ctx.tried.push(`the agent's keys (${agent})`);
    return agent;
  }
  ctx.tried.push(
    `not the agent: Deno may not use its socket ${agent} (grant --allow-read=${agent} --allow-write=${agent})`,
  );
  return undefined;
}

// The private key to offer: given, from the key file, or (without an
// agent) OpenSSH's default identities; checked that it can be used.
function privateKey(
  ctx: SshContext,
  hasAgent: boolean,
): { text: string; file?: string } | undefined {
  const { ep, engine, options } = ctx;
  let text: string | undefined;
  let file = options.identityFile;
  if (options.privateKey) {
    text = options.privateKey;
    ctx.tried.push("the given private key");
  } else if (file) {
    text = readFile(file, "SSH key file", ep, engine);
    if (text === undefined) {
      throw new EngineAuthError(ep.api, {
        engine,
        detail: `no SSH key file "${file}"`,
      });
    }
  } else if (!hasAgent && ctx.home) {
    for (const name of DEFAULT_IDENTITIES) {
      const path = `${ctx.home}/.ssh/${name}`;
      text = readFile(path, "SSH key file", ep, engine);
      if (text !== undefined) {
        file = path;
        break;
      }
    }
  }
  if (text === undefined) return undefined;
  const parsed = ssh2.utils.parseKey(text, options.passphrase);
  if (parsed instanceof Error) {
    throw new EngineAuthError(ep.api, {
      engine,
      cause: parsed,
      detail: `cannot use the SSH key${file ? ` "${file}"` : ""}: ${
        parsed.message.replace(/^./, (c) => c.toLowerCase())
      }`,
    });
  }
  if (file) ctx.tried.push(`the key file ${file}`);
  return { text, file };
}

// Host key checking against the known_hosts file: ssh2's algorithms and
// verifier, and the typed error of the last refused key.
function hostKeyCheck(ctx: SshContext, name: string): {
  algorithms: Record<string, unknown>;
  hostVerifier: (key: Uint8Array) => boolean;
  failure: () => EngineHostKeyError | undefined;
} {
  const { ep, engine, options } = ctx;
  const knownHosts = options.knownHosts ??
    (ctx.home ? `${ctx.home}/.ssh/known_hosts` : undefined);
  const text = knownHosts
    ? readFile(knownHosts, "known_hosts file", ep, engine) ?? ""
    : "";
  const known: KnownKey[] = knownKeys(text, name);
  let failure: EngineHostKeyError | undefined;
  const hostVerifier = (key: Uint8Array) => {
    const verdict = checkHostKey(known, key);
    if (verdict.ok) return true;
    failure = new EngineHostKeyError(ep.api, {
      engine,
      reason: verdict.reason,
      host: name,
      knownHosts: knownHosts ?? "~/.ssh/known_hosts (no HOME)",
      fingerprint: fingerprint(key),
      keyType: keyTypeOf(key),
      detail: verdict.detail,
    });
    return false;
  };
  return {
    algorithms: {
      serverHostKey: preferredHostKeyAlgorithms(known, HOST_KEY_ALGORITHMS),
    },
    hostVerifier,
    failure: () => failure,
  };
}

// The typed error of a failed SSH connection.
function classifier(
  ctx: SshContext,
  name: string,
  hostKeyFailure: () => EngineHostKeyError | undefined,
): (error: unknown) => EngineError | undefined {
  const { ep, engine, options, tried } = ctx;
  return (error) => {
    const text = String((error as Error)?.message ?? error);
    const level = (error as { level?: string })?.level;
    if (/Host denied/.test(text)) {
      return hostKeyFailure() ?? new EngineHostKeyError(ep.api, {
        engine,
        reason: "unknown-host",
        host: name,
        knownHosts: options.knownHosts ?? "~/.ssh/known_hosts",
        fingerprint: "?",
        keyType: "?",
        cause: error,
      });
    }
    if (
      level === "client-authentication" ||
      /All configured authentication methods failed/.test(text)
    ) {
      return new EngineAuthError(ep.api, {
        engine,
        cause: error,
        detail: `the host refused ${ep.user}'s keys (tried ${
          tried.length ? tried.join(", ") : "none: no agent, no key file"
        })`,
      });
    }
    return connectFailure(ep.api, error, { engine });
  };
}

/**
 * Checks permissions and loads keys and known hosts for `ep`; throws the
 * contract's typed errors: `EnginePermissionError` for a missing Deno
 * permission (net to the host, read of a file, the agent socket),
 * `EngineAuthError` for a key file that cannot be used.
 */
export function prepareSsh(
  ep: DockerEndpoint,
  options: DockerSshOptions,
  engine: string,
): SshSetup {
  const port = ep.port ?? 22;
  const ctx: SshContext = {
    ep,
    engine,
    options,
    home: envValue("HOME"),
    tried: [],
  };
  checkNetPermission(ctx, port);
  const sshOptions: Record<string, unknown> = {
    readyTimeout: options.readyTimeoutMs ?? 10_000,
  };
  const agent = agentSocket(ctx);
  if (agent) sshOptions.agent = agent;
  const key = privateKey(ctx, agent !== undefined);
  if (key) {
    sshOptions.privateKey = key.text;
    if (options.passphrase) sshOptions.passphrase = options.passphrase;
  }
  const name = knownHostName(ep.host!, port);
  let hostKeyFailure = (): EngineHostKeyError | undefined => undefined;
  if (options.hostKeyCheck !== false) {
    const check = hostKeyCheck(ctx, name);
    sshOptions.algorithms = check.algorithms;
    sshOptions.hostVerifier = check.hostVerifier;
    hostKeyFailure = check.failure;
  }
  return { sshOptions, classify: classifier(ctx, name, hostKeyFailure) };
}

/** ssh2's options for one connection to `ep`. */
export function connectOptions(
  ep: DockerEndpoint,
  setup: SshSetup,
): Record<string, unknown> {
  return {
    ...setup.sshOptions,
    host: ep.host,
    port: ep.port,
    username: ep.user,
  };
}

// A channel of one SSH connection to the host: the remote end of one HTTP
// connection.
type OpenChannel = (
  conn: InstanceType<typeof ssh2.Client>,
  cb: (err: Error | undefined, stream: Duplex) => void,
) => void;

// An HTTP agent whose every connection is a new SSH connection with one
// channel, ended with it. Every failure (connecting, logging in, opening
// the channel, the channel itself) reaches the request as an error, once:
// docker-modem's own agent went on with an undefined stream after a failed
// `exec` and threw outside any promise, which ends a Deno process.
function channelAgent(
  ep: DockerEndpoint,
  setup: SshSetup,
  open: OpenChannel,
): http.Agent {
  const agent = new http.Agent({ keepAlive: false });
  (agent as unknown as {
    createConnection: (
      o: unknown,
      cb: (err: Error | null, s?: Duplex) => void,
    ) => void;
  }).createConnection = (_o, cb) => {
    const conn = new ssh2.Client();
    let done = false;
    const fail = (err: Error) => {
      conn.end();
      if (!done) {
        done = true;
        cb(err);
      }
    };
    conn.once("ready", () => {
      try {
        open(conn, (err, stream) => {
          if (err || !stream) {
            return fail(err ?? new Error("the SSH channel did not open"));
          }
          done = true;
          stream.once("close", () => conn.end());
          cb(null, stream);
        });
      } catch (err) {
        fail(err as Error);
      }
    });
    conn.on("error", fail);
    conn.connect(connectOptions(ep, setup));
  };
  return agent;
}

/**
 * An HTTP agent whose connections go through SSH to the remote unix socket
 * `ep.remoteSocket` (OpenSSH's socket forwarding, as podman's connections
 * use): one SSH connection per HTTP connection, ended with it.
 */
export function socketForwardAgent(
  ep: DockerEndpoint,
  setup: SshSetup,
): http.Agent {
  return channelAgent(
    ep,
    setup,
    (conn, cb) =>
      conn.openssh_forwardOutStreamLocal(
        ep.remoteSocket!,
        cb as (err: Error | undefined, stream: unknown) => void,
      ),
  );
}

/**
 * An HTTP agent whose connections run `docker system dial-stdio` on the
 * host through SSH, as the docker CLI does for `ssh://`: one SSH connection
 * per HTTP connection, ended with it.
 */
export function dialStdioAgent(
  ep: DockerEndpoint,
  setup: SshSetup,
): http.Agent {
  return channelAgent(ep, setup, (conn, cb) =>
    conn.exec(
      "docker system dial-stdio",
      cb as (err: Error | undefined, stream: unknown) => void,
    ));
}

/**
 * An HTTP agent for one request to `ep` through SSH: the remote side's
 * `docker system dial-stdio`, or socket forwarding when the endpoint names
 * a socket.
 */
export function sshAgent(ep: DockerEndpoint, setup: SshSetup): http.Agent {
  return ep.remoteSocket
    ? socketForwardAgent(ep, setup)
    : dialStdioAgent(ep, setup);
}
