/**
 * The agent: a fleet served over HTTP — a JSON snapshot, Server-Sent
 * Events with resume, Prometheus metrics, a health check and a live page.
 *
 * @module
 */

import type { Fleet, FleetEngineEvent } from "../mod.ts";
import {
  checkToken,
  isLocalAddress,
  type ListenAddress,
  parseListen,
  SERVE_DEFAULTS,
  TOKEN_ENV,
  UsageError,
} from "../cli/_args.ts";
import { errorMessage } from "./_documents.ts";
import { Hub } from "./_hub.ts";
import { jsonResponse } from "./_http.ts";
import { engineKey, isEngineEvent } from "./_model.ts";
import { pageCsp } from "./_page.ts";
import { handle } from "./_routes.ts";
import { ClientEndedError } from "./_sse.ts";

/**
 * Options of {@linkcode startAgent}.
 *
 * @example
 * ```ts
 * import type { AgentOptions } from "@whalewatcher/whalewatcher/serve";
 * import { Fleet } from "@whalewatcher/whalewatcher";
 * const options: AgentOptions = {
 *   fleet: new Fleet({ rediscoverIntervalMs: 5_000 }),
 *   listen: "127.0.0.1:9477",
 *   maxClients: 16,
 * };
 * ```
 */
export interface AgentOptions {
  /** The fleet to serve; the agent does not close it. */
  fleet: Fleet;
  /**
   * `HOST:PORT`, `[IPv6]:PORT` or `unix:PATH` (or the parsed address);
   * default `127.0.0.1:9477`. Port 0 picks a free port (see
   * {@linkcode Agent.url}). An address other than loopback or a unix
   * socket needs `token`.
   */
  listen?: string;
  /**
   * Bearer token asked on every route but `/` and `/healthz` (at least 16
   * printable ASCII characters).
   */
  token?: string;
  /** Most concurrent `/events` clients; default 64. */
  maxClients?: number;
  /** Events kept for clients that reconnect with `Last-Event-ID`; default 10,000. */
  bufferSize?: number;
  /** Events an `/events` client may fall behind before it is dropped; default 1,000. */
  clientQueueSize?: number;
  /** Interval of the `: ping` comment on `/events`; default 15,000 ms. */
  heartbeatMs?: number;
  /** Serve only the containers of this compose project (`""`: of none). */
  project?: string;
  /** Serve only the containers with these labels (and values). */
  labels?: readonly { key: string; value?: string }[];
  /**
   * Receives one line per engine change and per unexpected error; never a
   * token. Default: nothing is logged.
   */
  log?: (line: string) => void;
  /** Bound of the agent's own subscription to the fleet; default 100,000. */
  fleetQueueSize?: number;
}

/**
 * A running agent.
 *
 * @example
 * ```ts ignore
 * import { startAgent } from "@whalewatcher/whalewatcher/serve";
 * import { Fleet } from "@whalewatcher/whalewatcher";
 * await using fleet = new Fleet();
 * await using agent = await startAgent({ fleet, listen: "127.0.0.1:0" });
 * console.log(await (await fetch(new URL("containers", agent.url))).json());
 * ```
 */
export interface Agent extends AsyncDisposable {
  /**
   * Where it listens: `http://HOST:PORT/` for TCP (the real port when 0
   * was asked), `unix:PATH` for a unix socket.
   */
  readonly url: string;
  /** The address it listens on. */
  readonly addr: Deno.NetAddr | Deno.UnixAddr;
  /**
   * Ends every `/events` client, stops listening and removes its unix
   * socket; calling it again is harmless.
   */
  close(): Promise<void>;
}

function address(listen: string | undefined): ListenAddress {
  try {
    return parseListen(listen ?? SERVE_DEFAULTS.listen);
  } catch (err) {
    if (err instanceof UsageError) throw new TypeError(err.message);
    throw err;
  }
}

// A unix socket left by an agent that died is removed; one that answers is
// another agent's, and left alone.
async function clearStaleSocket(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  if (!info.isSocket) {
    throw new Deno.errors.AlreadyExists(
      `cannot listen on "${path}": it exists and is not a socket`,
    );
  }
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
    throw new Deno.errors.AddrInUse(
      `cannot listen on "${path}": another process answers on it`,
    );
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) throw err;
    await Deno.remove(path);
  }
}

function describe(e: FleetEngineEvent): string {
  const what = {
    "engine-added": "watching",
    "engine-ready": "ready:",
    "engine-failed": "failed:",
    "engine-removed": "gone:",
  }[e.type];
  return `whalewatcher: ${what} ${e.engine.type} at ${e.engine.api}${
    e.engine.pid ? ` (PID ${e.engine.pid})` : ""
  }${e.error === undefined ? "" : `: ${errorMessage(e.error)}`}`;
}

/**
 * Serves `fleet` over HTTP until closed: `GET /containers` (JSON),
 * `/events` (Server-Sent Events with `Last-Event-ID` resume), `/metrics`
 * (Prometheus), `/healthz` and `/` (a live page). Read-only; by default
 * on 127.0.0.1:9477. Rejects with a `TypeError` for bad options (an
 * address off loopback without a token, a short token) and with Deno's
 * error when it cannot listen.
 *
 * @example
 * ```ts ignore
 * import { startAgent } from "@whalewatcher/whalewatcher/serve";
 * import { Fleet } from "@whalewatcher/whalewatcher";
 *
 * await using fleet = new Fleet({ rediscoverIntervalMs: 5_000 });
 * await using agent = await startAgent({ fleet, listen: "127.0.0.1:0" });
 * const events = new EventSource(new URL("events", agent.url));
 * events.addEventListener("started", (m) => console.log(JSON.parse(m.data).name));
 * ```
 */
export async function startAgent(options: AgentOptions): Promise<Agent> {
  const listen = address(options.listen);
  let token: string | undefined;
  if (options.token !== undefined) {
    try {
      token = checkToken(options.token, "the token option");
    } catch (err) {
      throw new TypeError((err as Error).message);
    }
  }
  if (!token && !isLocalAddress(listen)) {
    throw new TypeError(
      `listening on ${
        listen.transport === "tcp" ? listen.hostname : "?"
      } makes the agent reachable from other machines: give a token (or env ${TOKEN_ENV} to deno task serve), or listen on 127.0.0.1 or a unix socket`,
    );
  }
  const { fleet } = options;
  const log = options.log ?? (() => {});
  const csp = await pageCsp();
  if (listen.transport === "unix") await clearStaleSocket(listen.path);

  const hub = new Hub(fleet, {
    bufferSize: options.bufferSize ?? SERVE_DEFAULTS.bufferSize,
    clientQueueSize: options.clientQueueSize ?? SERVE_DEFAULTS.clientQueueSize,
    heartbeatMs: options.heartbeatMs ??
      SERVE_DEFAULTS.heartbeatSeconds * 1000,
    maxClients: options.maxClients ?? SERVE_DEFAULTS.maxClients,
    filters: {
      engines: [],
      ...(options.project === undefined ? {} : { project: options.project }),
      labels: options.labels ?? [],
    },
    fleetQueueSize: options.fleetQueueSize,
    version: (key, signal) => {
      const member = fleet.engines().find((m) => engineKey(m.engine) === key);
      return member ? member.watcher.version({ signal }) : Promise.resolve(
        undefined,
      );
    },
    onEvent: (e) => {
      if (isEngineEvent(e)) log(describe(e));
    },
  });
  let settled = false;
  fleet.ready.then(() => settled = true, () => settled = true);
  const ctx = {
    fleet,
    hub,
    token,
    checkHost: !token && listen.transport === "tcp",
    csp,
    settled: () => settled,
    startTime: Date.now(),
  };

  const serveOptions = {
    onListen: () => {},
    onError: (err: unknown): Response => {
      // A dropped or ended /events client: its stream was ended on purpose.
      if (err instanceof ClientEndedError) return new Response(null);
      log(`whalewatcher: internal error: ${errorMessage(err)}`);
      return jsonResponse(500, { error: "internal error" });
    },
  };
  let server: Deno.HttpServer<Deno.NetAddr> | Deno.HttpServer<Deno.UnixAddr>;
  try {
    server = listen.transport === "unix"
      ? Deno.serve(
        { ...serveOptions, path: listen.path, transport: "unix" },
        (req) => handle(ctx, req),
      )
      : Deno.serve(
        { ...serveOptions, hostname: listen.hostname, port: listen.port },
        (req) => handle(ctx, req),
      );
  } catch (err) {
    await hub.close();
    throw err;
  }
  if (listen.transport === "unix") {
    // Only the owner and its group may connect (connecting needs write).
    await Deno.chmod(listen.path, 0o660).catch(() => {});
  }
  const addr: Deno.NetAddr | Deno.UnixAddr = server.addr;
  const url = "path" in addr
    ? `unix:${addr.path}`
    : `http://${
      addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname
    }:${addr.port}/`;
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      await hub.close();
      await server.shutdown();
      if (listen.transport === "unix") {
        await Deno.remove(listen.path).catch(() => {});
      }
    })();
  return { url, addr, close, [Symbol.asyncDispose]: close };
}
