// SSH transport of ssh:// Docker endpoints (internal): credentials (agent,
// key file), host key checking against a known_hosts file, the Deno
// permissions they need (checked first: ssh2's agent code throws a missing
// permission outside any promise), the typed errors of SSH failures, and an
// HTTP agent for dockerode whose connections are channels of one SSH
// connection.
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
  const host = ep.host!;
  const port = ep.port ?? 22;
  const hostPort = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  if (!granted({ name: "net", host: hostPort })) {
    throw new EnginePermissionError(ep.api, {
      engine,
      deno: true,
      advice: `grant --allow-net=${hostPort}`,
    });
  }
  const home = envValue("HOME");
  const sshOptions: Record<string, unknown> = {
    readyTimeout: options.readyTimeoutMs ?? 10_000,
  };
  const tried: string[] = [];

  const agent = options.agent === false
    ? undefined
    : options.agent ?? envValue("SSH_AUTH_SOCK");
  if (agent) {
    // Without Deno's permission for the agent's socket, ssh2's agent code
    // would throw outside any promise: skip the agent, and say so if the
    // host refuses the other keys.
    if (
      granted({ name: "read", path: agent }) &&
      granted({ name: "write", path: agent })
    ) {
      sshOptions.agent = agent;
      tried.push(`the agent's keys (${agent})`);
    } else {
      tried.push(
        `not the agent: Deno may not use its socket ${agent} (grant --allow-read=${agent} --allow-write=${agent})`,
      );
    }
  }

  let keyText: string | undefined;
  let keyFile = options.identityFile;
  if (options.privateKey) {
    keyText = options.privateKey;
    tried.push("the given private key");
  } else if (keyFile) {
    keyText = readFile(keyFile, "SSH key file", ep, engine);
    if (keyText === undefined) {
      throw new EngineAuthError(ep.api, {
        engine,
        detail: `no SSH key file "${keyFile}"`,
      });
    }
  } else if (!sshOptions.agent && home) {
    for (const name of DEFAULT_IDENTITIES) {
      const path = `${home}/.ssh/${name}`;
      keyText = readFile(path, "SSH key file", ep, engine);
      if (keyText !== undefined) {
        keyFile = path;
        break;
      }
    }
  }
  if (keyText !== undefined) {
    const parsed = ssh2.utils.parseKey(keyText, options.passphrase);
    if (parsed instanceof Error) {
      throw new EngineAuthError(ep.api, {
        engine,
        cause: parsed,
        detail: `cannot use the SSH key${keyFile ? ` "${keyFile}"` : ""}: ${
          parsed.message.replace(/^./, (c) => c.toLowerCase())
        }`,
      });
    }
    sshOptions.privateKey = keyText;
    if (options.passphrase) sshOptions.passphrase = options.passphrase;
    if (keyFile) tried.push(`the key file ${keyFile}`);
  }

  const name = knownHostName(host, port);
  let hostKeyFailure: EngineHostKeyError | undefined;
  if (options.hostKeyCheck !== false) {
    const knownHosts = options.knownHosts ??
      (home ? `${home}/.ssh/known_hosts` : undefined);
    const text = knownHosts
      ? readFile(knownHosts, "known_hosts file", ep, engine) ?? ""
      : "";
    const known: KnownKey[] = knownKeys(text, name);
    sshOptions.algorithms = {
      serverHostKey: preferredHostKeyAlgorithms(known, HOST_KEY_ALGORITHMS),
    };
    sshOptions.hostVerifier = (key: Uint8Array) => {
      const verdict = checkHostKey(known, key);
      if (verdict.ok) return true;
      hostKeyFailure = new EngineHostKeyError(ep.api, {
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
  }

  const classify = (error: unknown): EngineError | undefined => {
    const text = String((error as Error)?.message ?? error);
    const level = (error as { level?: string })?.level;
    if (/Host denied/.test(text)) {
      return hostKeyFailure ?? new EngineHostKeyError(ep.api, {
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
  return { sshOptions, classify };
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

/** An HTTP agent over one shared SSH connection; `close()` ends it. */
export interface SshHttpAgent extends http.Agent {
  /** Ends the SSH connection and every channel on it. */
  close(): void;
}

/**
 * An HTTP agent whose connections are channels of ONE SSH connection to
 * `ep` (opened at the first request, opened again after it broke): each
 * HTTP connection runs the host's `docker system dial-stdio`, or is
 * forwarded to `ep.remoteSocket` (podman's connections). dockerode's own
 * SSH support opens a new SSH connection for every API call instead, which
 * makes a list of many containers slow and, on a busy host, runs into
 * sshd's limit of unauthenticated connections (MaxStartups). At most
 * `maxChannels` HTTP connections at once (sshd's MaxSessions is 10 by
 * default); more requests queue.
 */
export function sharedSshAgent(
  ep: DockerEndpoint,
  setup: SshSetup,
  options: { maxChannels?: number } = {},
): SshHttpAgent {
  let conn: Promise<InstanceType<typeof ssh2.Client>> | undefined;
  let live: InstanceType<typeof ssh2.Client> | undefined;
  let closed = false;
  const connect = () => {
    conn ??= new Promise((resolve, reject) => {
      const c = new ssh2.Client();
      let ready = false;
      c.once("ready", () => {
        ready = true;
        live = c;
        resolve(c);
      });
      c.on("error", (err: Error) => {
        if (!ready) reject(err);
      });
      c.once("close", () => {
        if (conn && live === c || !ready) conn = undefined;
        if (live === c) live = undefined;
        if (!ready) reject(new Error(`SSH connection to "${ep.api}" closed`));
      });
      c.connect(connectOptions(ep, setup));
    });
    const pending = conn;
    // A failed connection is not kept: the next request tries again.
    pending.catch(() => {
      if (conn === pending) conn = undefined;
    });
    return pending;
  };
  // Channels are counted here, by their own close: node's agent does not
  // always see a channel's end, and its count would fill up over time.
  const max = options.maxChannels ?? 8;
  let open = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    open--;
    waiting.shift()?.();
  };
  const agent = new http.Agent({ keepAlive: false }) as SshHttpAgent;
  const openChannel = (cb: (err: Error | null, s?: Duplex) => void) => {
    if (closed) {
      cb(new Error(`SSH connection to "${ep.api}" is closed`));
      return;
    }
    if (open >= max) {
      waiting.push(() => openChannel(cb));
      return;
    }
    open++;
    let released = false;
    const once = () => {
      if (!released) {
        released = true;
        release();
      }
    };
    connect().then((c) => {
      const done = (err: Error | undefined, stream: Duplex) => {
        if (err) {
          once();
          cb(err);
          return;
        }
        stream.once("close", once);
        // However HTTP ends with it, the channel is closed for sure.
        const end = () =>
          (stream as unknown as { close?: () => void }).close?.();
        stream.once("end", end);
        stream.once("error", end);
        cb(null, stream);
      };
      try {
        if (ep.remoteSocket) {
          c.openssh_forwardOutStreamLocal(ep.remoteSocket, done);
        } else c.exec("docker system dial-stdio", done);
      } catch (err) {
        once();
        cb(err as Error);
      }
    }, (err) => {
      once();
      cb(err);
    });
  };
  (agent as unknown as {
    createConnection: (
      o: unknown,
      cb: (err: Error | null, s?: Duplex) => void,
    ) => void;
  }).createConnection = (_o, cb) => openChannel(cb);
  agent.close = () => {
    closed = true;
    for (const w of waiting.splice(0)) w();
    agent.destroy();
    live?.end();
    conn?.then((c) => c.end(), () => {});
  };
  return agent;
}

/** An agent for one probe: one SSH connection, one channel; close it after. */
export function sshAgent(ep: DockerEndpoint, setup: SshSetup): SshHttpAgent {
  return sharedSshAgent(ep, setup, { maxChannels: 1 });
}
