/**
 * The whalewatcher agent (`deno task serve`): the engines of this machine
 * (or the `--socket` endpoints) as a fleet, served over HTTP for consumers
 * that are not Deno scripts — `GET /containers` (a JSON snapshot),
 * `/events` (Server-Sent Events, resumable with `Last-Event-ID`),
 * `/metrics` (Prometheus text format), `/healthz` and `/` (a live page).
 * Read-only; on 127.0.0.1:9477 by default; any address but loopback or a
 * unix socket needs a bearer token.
 *
 * ```sh
 * deno task serve
 * WHALEWATCHER_TOKEN=$(cat token) deno task serve --listen 0.0.0.0:9477
 * ```
 *
 * @example
 * ```ts ignore
 * import { startAgent } from "@whalewatcher/whalewatcher/serve";
 * import { Fleet } from "@whalewatcher/whalewatcher";
 *
 * await using fleet = new Fleet({ rediscoverIntervalMs: 5_000 });
 * await using agent = await startAgent({ fleet, listen: "127.0.0.1:0" });
 * const res = await fetch(new URL("containers", agent.url));
 * console.log(await res.json());
 * ```
 *
 * @module
 */

import { Fleet } from "../mod.ts";
import { envValue } from "../engineclient/_env.ts";
import {
  AdapterLoadError,
  checkEngineTypes,
  loadAdapters,
} from "../cli/_adapters.ts";
import {
  parseServeArgs,
  SERVE_USAGE,
  type ServeArgs,
  TOKEN_ENV,
  UsageError,
} from "../cli/_args.ts";
import { fleetOptions, noEngineNote } from "../cli/_fleet.ts";
import { startAgent } from "./agent.ts";

export { type Agent, type AgentOptions, startAgent } from "./agent.ts";

/**
 * Where the agent's command line writes, and the signal that stops it.
 *
 * @example
 * ```ts ignore
 * import { main } from "@whalewatcher/whalewatcher/serve";
 * const stop = new AbortController();
 * const code = main(["--listen", "127.0.0.1:0"], { signal: stop.signal });
 * stop.abort();
 * console.log(await code); // 0
 * ```
 */
export interface ServeMainOptions {
  /** Writes one line to stdout (`--help`); default `console.log`. */
  out?: (line: string) => void;
  /** Writes one diagnostic line; default `console.error`. */
  err?: (line: string) => void;
  /** Stops the agent (as Ctrl-C does); default: SIGINT and SIGTERM. */
  signal?: AbortSignal;
}

/**
 * Runs `deno task serve` with `args` until stopped; resolves to the exit
 * code: 0 after a stop, 1 when it cannot listen, 2 for bad flags or an
 * `--adapter` module that cannot be loaded. It says where it listens on
 * stderr (`whalewatcher: serving http://127.0.0.1:9477/`).
 *
 * @example
 * ```ts ignore
 * import { main } from "@whalewatcher/whalewatcher/serve";
 * Deno.exit(await main(["--listen", "unix:/run/whalewatcher.sock"]));
 * ```
 */
export async function main(
  args: string[],
  options: ServeMainOptions = {},
): Promise<number> {
  const out = options.out ?? ((line: string) => console.log(line));
  const err = options.err ?? ((line: string) => console.error(line));
  let cli: ServeArgs;
  try {
    cli = parseServeArgs(args, { tokenEnv: envValue(TOKEN_ENV) });
    if (cli.help) {
      out(SERVE_USAGE);
      return 0;
    }
    await loadAdapters(cli.adapters);
    checkEngineTypes(cli.engines);
  } catch (e) {
    if (e instanceof UsageError || e instanceof AdapterLoadError) {
      err(`whalewatcher: ${e.message}`);
      return 2;
    }
    throw e;
  }

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  if (options.signal) {
    if (options.signal.aborted) stop.abort();
    options.signal.addEventListener("abort", onSignal, { once: true });
  } else {
    for (const s of signals) Deno.addSignalListener(s, onSignal);
  }
  try {
    await using fleet = new Fleet(fleetOptions(cli, {
      rediscoverIntervalMs: cli.rediscoverMs,
    }));
    let agent;
    try {
      agent = await startAgent({
        fleet,
        listen: cli.listenText,
        token: cli.token,
        maxClients: cli.maxClients,
        bufferSize: cli.bufferSize,
        clientQueueSize: cli.clientQueueSize,
        heartbeatMs: cli.heartbeatMs,
        project: cli.project,
        labels: cli.labels,
        log: err,
      });
    } catch (e) {
      err(`whalewatcher: cannot serve: ${(e as Error).message}`);
      return 1;
    }
    await using _agent = agent;
    err(
      `whalewatcher: serving ${agent.url}${
        cli.token ? " (bearer token required)" : ""
      }`,
    );
    fleet.ready.then(() => {
      if (fleet.engines().length === 0 && !stop.signal.aborted) {
        err(
          `${noEngineNote(fleet, cli)}; waiting for one (looking every ${
            cli.rediscoverMs / 1000
          } s)`,
        );
      }
    }, () => {});
    if (!stop.signal.aborted) {
      await new Promise((resolve) =>
        stop.signal.addEventListener("abort", resolve, { once: true })
      );
    }
    return 0;
  } finally {
    options.signal?.removeEventListener("abort", onSignal);
    if (!options.signal) {
      for (const s of signals) Deno.removeSignalListener(s, onSignal);
    }
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
