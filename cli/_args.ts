// The one place the command lines (`deno task watch`, `deno task serve`)
// parse flags: both share the discovery flags and filters, each adds its
// own. Swapping node:util's parseArgs for @std/cli later is a change of
// this file only.
import { parseArgs } from "node:util";

/** The discovery flags and filters that `watch` and `serve` share. */
export interface DiscoveryArgs {
  help: boolean;
  sockets: string[];
  contexts: string[];
  engines: string[];
  adapters: string[];
  project?: string;
  labels: LabelFilter[];
}

/** The CLI's settings, parsed and checked. */
export interface CliArgs extends DiscoveryArgs {
  json: boolean;
  once: boolean;
  color: boolean;
}

/** Where the agent listens: a TCP host and port, or a unix socket. */
export type ListenAddress =
  | { transport: "tcp"; hostname: string; port: number }
  | { transport: "unix"; path: string };

/** The agent's settings (`deno task serve`), parsed and checked. */
export interface ServeArgs extends DiscoveryArgs {
  listen: ListenAddress;
  /** `--listen` as given (or the default). */
  listenText: string;
  /** The bearer token; from `--token` or `WHALEWATCHER_TOKEN`. */
  token?: string;
  maxClients: number;
  bufferSize: number;
  clientQueueSize: number;
  heartbeatMs: number;
  rediscoverMs: number;
}

/** A `--label KEY[=VALUE]` filter; without a value any value matches. */
export interface LabelFilter {
  key: string;
  value?: string;
}

/** A flag the CLI does not understand, or a flag value it cannot use. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

const DISCOVERY_USAGE =
  `  --socket ENDPOINT    watch the engine at this socket path or URL (repeatable):
                       unix://PATH, tcp://HOST:PORT (TLS from DOCKER_CERT_PATH
                       and DOCKER_TLS_VERIFY), ssh://USER@HOST[:PORT]; without
                       it and --context, engines are discovered (DOCKER_HOST,
                       the current docker context, podman's default
                       connection, well-known paths, processes)
  --context NAME       watch the engine of this docker context or podman
                       connection, with its TLS material or SSH key
                       (repeatable); "all" for every one
  --engine TYPE        watch only engines of this type (repeatable), e.g.
                       docker.com, containerd.io, cri, podman.io
  --adapter MODULE     import this module first (repeatable): a third-party
                       adaptor that registers itself, found like a built-in
  --project NAME       only containers of this compose project ("" = none)
  --label KEY[=VALUE]  only containers with this label (and value); repeatable`;

export const USAGE =
  `whalewatcher: the alive containers of Docker, containerd and CRI engines, and their lifecycle events

usage: deno task watch [options]

options:
${DISCOVERY_USAGE}
  --json               one JSON object per line on stdout
  --once               print the engines' containers, then exit
  --no-color           no colors (also when NO_COLOR is set or not on a TTY)
  -h, --help           this help
`;

/** Defaults of `deno task serve`. */
export const SERVE_DEFAULTS = {
  listen: "127.0.0.1:9477",
  maxClients: 64,
  bufferSize: 10_000,
  clientQueueSize: 1_000,
  heartbeatSeconds: 15,
  rediscoverSeconds: 5,
} as const;

/** The environment variable that may hold the agent's bearer token. */
export const TOKEN_ENV = "WHALEWATCHER_TOKEN";

/** Shortest bearer token the agent accepts. */
export const MIN_TOKEN_LENGTH = 16;

export const SERVE_USAGE =
  `whalewatcher agent: the engines' alive containers and lifecycle events over HTTP

usage: deno task serve [options]

routes (read-only: GET and HEAD):
  /            a live page             /containers  JSON snapshot
  /events      Server-Sent Events      /metrics     Prometheus text format
  /healthz     200 when every engine is ready, else 503 with the reasons

options:
${DISCOVERY_USAGE}
  --listen ADDR        HOST:PORT, [IPv6]:PORT or unix:PATH (default ${SERVE_DEFAULTS.listen});
                       an address other than loopback or a unix socket needs a token
  --token TOKEN        bearer token required on every route but / and /healthz
                       (at least ${MIN_TOKEN_LENGTH} characters; better: env ${TOKEN_ENV}, which
                       does not show in the process list)
  --max-clients N      at most N concurrent /events clients (default ${SERVE_DEFAULTS.maxClients})
  --buffer N           events kept for clients that reconnect with Last-Event-ID
                       (default ${SERVE_DEFAULTS.bufferSize})
  --client-queue N     events an /events client may fall behind before it is
                       dropped (default ${SERVE_DEFAULTS.clientQueueSize})
  --heartbeat SECONDS  a ": ping" comment on /events this often (default ${SERVE_DEFAULTS.heartbeatSeconds})
  --rediscover SECONDS look for engines that came or went this often (default ${SERVE_DEFAULTS.rediscoverSeconds})
  -h, --help           this help
`;

type OptionSpec = Record<
  string,
  { type: "boolean" | "string"; short?: string; multiple?: boolean }
>;

const DISCOVERY_OPTIONS: OptionSpec = {
  help: { type: "boolean", short: "h" },
  socket: { type: "string", multiple: true },
  context: { type: "string", multiple: true },
  engine: { type: "string", multiple: true },
  adapter: { type: "string", multiple: true },
  project: { type: "string" },
  label: { type: "string", multiple: true },
};

type Values = Record<string, string | boolean | string[] | undefined>;

function parse(args: string[], extra: OptionSpec): Values {
  try {
    return parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: { ...DISCOVERY_OPTIONS, ...extra },
    }).values as Values;
  } catch (err) {
    // node's messages start with a capital and mention internals; keep
    // the gist and point at --help.
    const message = (err as Error).message.replace(
      /^./,
      (c) => c.toLowerCase(),
    );
    throw new UsageError(`${message} (see --help)`);
  }
}

function nonEmpty(values: unknown, flag: string, what: string): string[] {
  return ((values as string[] | undefined) ?? []).map((s) => {
    if (s.trim() === "") throw new UsageError(`${flag} needs ${what}`);
    return s;
  });
}

/** Parses `KEY` or `KEY=VALUE`; throws {@linkcode UsageError} naming `source`. */
export function parseLabelFilter(text: string, source: string): LabelFilter {
  const eq = text.indexOf("=");
  const key = eq < 0 ? text : text.slice(0, eq);
  if (key === "") {
    throw new UsageError(
      `${source} "${text}" has no key (use KEY or KEY=VALUE)`,
    );
  }
  return eq < 0 ? { key } : { key, value: text.slice(eq + 1) };
}

function discoveryArgs(v: Values): DiscoveryArgs {
  return {
    help: (v.help as boolean | undefined) ?? false,
    sockets: nonEmpty(v.socket, "--socket", "a path"),
    contexts: nonEmpty(
      v.context,
      "--context",
      'a docker context or podman connection name (or "all")',
    ),
    engines: nonEmpty(v.engine, "--engine", "an engine type"),
    adapters: nonEmpty(v.adapter, "--adapter", "a module"),
    project: v.project as string | undefined,
    labels: ((v.label as string[] | undefined) ?? []).map((l) =>
      parseLabelFilter(l, "--label")
    ),
  };
}

/**
 * Parses the command line of `deno task watch`; throws
 * {@linkcode UsageError} for bad flags. `isTty` and `noColor` tell whether
 * colors are wanted by default.
 */
export function parseCliArgs(
  args: string[],
  env: { isTty: boolean; noColor: boolean },
): CliArgs {
  const v = parse(args, {
    json: { type: "boolean" },
    once: { type: "boolean" },
    "no-color": { type: "boolean" },
  });
  return {
    ...discoveryArgs(v),
    json: (v.json as boolean | undefined) ?? false,
    once: (v.once as boolean | undefined) ?? false,
    color: !v["no-color"] && env.isTty && !env.noColor,
  };
}

function integer(
  text: string | undefined,
  flag: string,
  fallback: number,
  range: { min: number; max: number },
): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < range.min || n > range.max) {
    throw new UsageError(
      `${flag} "${text}" is not a whole number from ${range.min} to ${range.max}`,
    );
  }
  return n;
}

/**
 * Parses a listen address: `HOST:PORT`, `[IPv6]:PORT` or `unix:PATH`;
 * throws {@linkcode UsageError} naming the address.
 */
export function parseListen(text: string): ListenAddress {
  if (text.startsWith("unix:")) {
    const path = text.slice("unix:".length);
    if (!path.startsWith("/")) {
      throw new UsageError(
        `--listen "${text}": a unix socket needs an absolute path (unix:/run/whalewatcher.sock)`,
      );
    }
    return { transport: "unix", path };
  }
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]\s]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new UsageError(
      `--listen "${text}" is not HOST:PORT, [IPv6]:PORT or unix:PATH`,
    );
  }
  return { transport: "tcp", hostname: m[1] ?? m[2], port };
}

/** Whether `address` is reachable only from this machine without a token. */
export function isLocalAddress(address: ListenAddress): boolean {
  if (address.transport === "unix") return true;
  const h = address.hostname.toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** Checks a bearer token's shape; throws {@linkcode UsageError} (never echoing it). */
export function checkToken(token: string, source: string): string {
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new UsageError(
      `the token from ${source} is too short (at least ${MIN_TOKEN_LENGTH} characters)`,
    );
  }
  // It travels in an Authorization header and a URL query parameter.
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new UsageError(
      `the token from ${source} may only hold printable ASCII without spaces`,
    );
  }
  return token;
}

// The bearer token: --token, else the environment's; checked.
function tokenOf(
  flag: string | undefined,
  tokenEnv: string | undefined,
): string | undefined {
  if (flag !== undefined) return checkToken(flag, "--token");
  return tokenEnv ? checkToken(tokenEnv, TOKEN_ENV) : undefined;
}

// The agent's numeric flags, each checked against its range.
function serveLimits(
  str: (name: string) => string | undefined,
): Pick<
  ServeArgs,
  | "maxClients"
  | "bufferSize"
  | "clientQueueSize"
  | "heartbeatMs"
  | "rediscoverMs"
> {
  const D = SERVE_DEFAULTS;
  const n = (flag: string, fallback: number, min: number, max: number) =>
    integer(str(flag), `--${flag}`, fallback, { min, max });
  return {
    maxClients: n("max-clients", D.maxClients, 1, 100_000),
    bufferSize: n("buffer", D.bufferSize, 0, 10_000_000),
    clientQueueSize: n("client-queue", D.clientQueueSize, 1, 1_000_000),
    heartbeatMs: 1000 * n("heartbeat", D.heartbeatSeconds, 1, 3600),
    rediscoverMs: 1000 * n("rediscover", D.rediscoverSeconds, 1, 3600),
  };
}

/**
 * Parses the command line of `deno task serve`; throws
 * {@linkcode UsageError} for bad flags. `tokenEnv` is the value of
 * `WHALEWATCHER_TOKEN`, used when `--token` is absent.
 */
export function parseServeArgs(
  args: string[],
  env: { tokenEnv?: string },
): ServeArgs {
  const v = parse(args, {
    listen: { type: "string" },
    token: { type: "string" },
    "max-clients": { type: "string" },
    buffer: { type: "string" },
    "client-queue": { type: "string" },
    heartbeat: { type: "string" },
    rediscover: { type: "string" },
  });
  const discovery = discoveryArgs(v);
  const str = (name: string) => v[name] as string | undefined;
  const listenText = str("listen") ?? SERVE_DEFAULTS.listen;
  const listen = parseListen(listenText);
  const token = tokenOf(str("token"), env.tokenEnv);
  if (!discovery.help && !token && !isLocalAddress(listen)) {
    throw new UsageError(
      `--listen "${listenText}" is reachable from other machines: give a token (--token, or env ${TOKEN_ENV}), or listen on 127.0.0.1 or a unix socket`,
    );
  }
  return { ...discovery, listen, listenText, token, ...serveLimits(str) };
}
