/**
 * The `whalewatcher` command line: discovers container engines (or takes
 * `--socket` paths), prints each engine and its alive containers grouped by
 * compose project, then one line per lifecycle event; `--json` prints JSON
 * lines instead, `--once` exits after the snapshots.
 *
 * ```sh
 * deno task watch --json --once
 * deno run jsr:@whalewatcher/whalewatcher/cli --socket /run/docker.sock
 * ```
 *
 * @example
 * ```ts ignore
 * import { main } from "@whalewatcher/whalewatcher/cli";
 * Deno.exit(await main(["--once"]));
 * ```
 *
 * @module
 */

import "../adapters/docker/mod.ts";
import "../adapters/containerd/mod.ts";
import "../adapters/cri/mod.ts";
import { engineRegistry } from "../engineclient/mod.ts";
import { createWatcher, type Watcher } from "../watcher/mod.ts";
import { discoverEngines } from "../watcher/discovery.ts";
import { type CliArgs, parseCliArgs, USAGE, UsageError } from "./_args.ts";
import { type EngineInfo, matchesFilters, Output } from "./_output.ts";

/**
 * Where the CLI writes, and the signal that ends a live watch.
 *
 * @example
 * ```ts ignore
 * import { main } from "@whalewatcher/whalewatcher/cli";
 * const lines: string[] = [];
 * await main(["--once", "--json"], { out: (l) => lines.push(l) });
 * ```
 */
export interface MainOptions {
  /** Writes one line to stdout; default `console.log`. */
  out?: (line: string) => void;
  /** Writes one line to stderr; default `console.error`. */
  err?: (line: string) => void;
  /** Ends the watch (as Ctrl-C does); default: SIGINT and SIGTERM. */
  signal?: AbortSignal;
}

/** How long `--once` waits for an engine's first snapshot. */
const ONCE_TIMEOUT_MS = 15_000;

/**
 * Runs the CLI with `args`; resolves to the process exit code: 0 on
 * success, 1 when no engine could be watched, 2 for bad flags.
 *
 * @example
 * ```ts ignore
 * import { main } from "@whalewatcher/whalewatcher/cli";
 * const code = await main(["--json", "--once"]);
 * ```
 */
export async function main(
  args: string[],
  options: MainOptions = {},
): Promise<number> {
  const out = options.out ?? ((line: string) => console.log(line));
  const err = options.err ?? ((line: string) => console.error(line));
  let cli: CliArgs;
  try {
    cli = parseCliArgs(args, {
      isTty: Deno.stdout.isTerminal(),
      noColor: Deno.noColor,
    });
  } catch (e) {
    if (e instanceof UsageError) {
      err(`whalewatcher: ${e.message}`);
      return 2;
    }
    throw e;
  }
  if (cli.help) {
    out(USAGE);
    return 0;
  }
  for (const type of cli.engines) {
    if (!engineRegistry.has(type) && !KNOWN_ALIASES.has(type)) {
      err(
        `whalewatcher: unknown engine type "${type}" for --engine (known: ${
          [...engineRegistry.types(), ...KNOWN_ALIASES].join(", ")
        })`,
      );
      return 2;
    }
  }
  const output = new Output(cli, { out, err });

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  if (options.signal) {
    options.signal.addEventListener("abort", onSignal, { once: true });
  } else if (!cli.once) {
    for (const s of signals) Deno.addSignalListener(s, onSignal);
  }
  try {
    return await run(cli, output, stop.signal);
  } finally {
    options.signal?.removeEventListener("abort", onSignal);
    if (!options.signal && !cli.once) {
      for (const s of signals) Deno.removeSignalListener(s, onSignal);
    }
  }
}

// Types that probes report but that are served by another adaptor.
const KNOWN_ALIASES = new Set(["podman.io"]);

async function run(
  cli: CliArgs,
  output: Output,
  stop: AbortSignal,
): Promise<number> {
  const found = await discoverEngines({
    endpoints: cli.sockets,
    explicitOnly: cli.sockets.length > 0,
    signal: stop,
  });
  for (const warning of found.warnings) output.note(`whalewatcher: ${warning}`);
  for (const rejected of found.rejected) {
    // Explicit sockets that fail are errors; discovered candidates that do
    // not answer are common (stale paths) and only noted.
    if (cli.sockets.length > 0) {
      output.engineError(
        { type: "", api: rejected.endpoint },
        rejected.message,
      );
    }
  }
  const engines = found.engines.filter((e) =>
    cli.engines.length === 0 || cli.engines.includes(e.type)
  );
  if (engines.length === 0) {
    output.note(
      `whalewatcher: no container engine found${
        cli.sockets.length
          ? ""
          : ` (tried ${
            found.rejected.map((r) => `${r.endpoint}: ${r.message}`).join(
              "; ",
            ) ||
            "no candidates"
          })`
      }`,
    );
    return 1;
  }

  const watchers = await Promise.all(engines.map(async (e) => {
    try {
      const watcher = await createWatcher(e.adapter ?? e.type, e.endpoint, {
        engine: { pid: e.pid, type: e.type },
        ...(cli.once ? { backoff: false } : {}),
      });
      return { found: e, watcher };
    } catch (error) {
      output.engineError(
        { type: e.type, api: e.endpoint },
        (error as Error).message,
      );
      return undefined;
    }
  }));
  const live = watchers.filter((w) => w !== undefined);
  let watched = 0;
  try {
    await Promise.all(live.map(async ({ found, watcher }) => {
      const ok = await follow(cli, output, watcher, found, stop);
      if (ok) watched++;
    }));
  } finally {
    await Promise.all(live.map(({ watcher }) => watcher.close()));
  }
  if (watched === 0) {
    output.note("whalewatcher: no container engine could be watched");
    return 1;
  }
  return 0;
}

/** Watches one engine: its snapshot, then (unless --once) its events. */
async function follow(
  cli: CliArgs,
  output: Output,
  watcher: Watcher,
  found: { type: string; endpoint: string; version?: string },
  stop: AbortSignal,
): Promise<boolean> {
  const info: EngineInfo = {
    type: watcher.type,
    api: watcher.api || found.endpoint,
    version: found.version ?? "",
    pid: watcher.pid,
  };
  const abort = new AbortController();
  const onStop = () => abort.abort();
  stop.addEventListener("abort", onStop, { once: true });
  const watching = watcher.watch(abort.signal).catch((error) => error);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), ONCE_TIMEOUT_MS);
    });
    const first = await Promise.race([
      watcher.ready.then(() => "ready" as const, (e) => e as Error),
      timeout,
    ]);
    clearTimeout(timer);
    if (first === "timeout" && cli.once) {
      output.engineError(
        info,
        `no snapshot within ${ONCE_TIMEOUT_MS / 1000} s`,
      );
      return false;
    }
    if (first === "timeout") {
      output.note(
        `whalewatcher: ${info.type} at ${info.api}: not answering yet, still trying`,
      );
      await watcher.ready.catch(() => {});
    }
    if (first instanceof Error) {
      if (stop.aborted) return false;
      output.engineError(info, first.message);
      return false;
    }
    if (stop.aborted) return false;
    info.version = await watcher.version({ signal: abort.signal }).catch(
      () => info.version,
    );
    // Subscribing and reading the portfolio in one synchronous step leaves
    // no gap between the snapshot and the events.
    let events = cli.once ? undefined : watcher.events();
    const snapshot = watcher.portfolio.containers().filter((c) =>
      matchesFilters(c, cli)
    );
    output.snapshot(info, snapshot);
    while (events) {
      try {
        for await (const e of events) {
          if (matchesFilters(e.container, cli)) {
            output.event(info, e.type, e.container, e.timestamp);
          }
        }
        events = undefined;
      } catch (error) {
        if (stop.aborted) break;
        output.note(
          `whalewatcher: ${info.type} at ${info.api}: ${
            (error as Error).message
          }; subscribing again`,
        );
        events = watcher.events();
      }
    }
    return true;
  } finally {
    clearTimeout(timer);
    stop.removeEventListener("abort", onStop);
    abort.abort();
    const ended = await watching;
    if (ended instanceof Error && !stop.aborted && !cli.once) {
      output.engineError(info, ended.message);
    }
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
