/**
 * The `whalewatcher` command line: watches the engines on this machine (or
 * the `--socket` endpoints) as a fleet, prints each engine and its alive
 * containers grouped by compose project when it is ready, then one line per
 * lifecycle event; engines that start later are picked up, engines that
 * vanish get their `exited` lines and an engine line. `--json` prints JSON
 * lines instead, `--once` exits after the snapshots.
 *
 * ```sh
 * deno task watch --json --once
 * deno task watch --socket /run/docker.sock --adapter ./my_adapter.ts
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

import {
  AdapterLoadError,
  checkEngineTypes,
  loadAdapters,
} from "./_adapters.ts";
import { type CliArgs, parseCliArgs, USAGE, UsageError } from "./_args.ts";
import { watchLive, watchOnce } from "./_fleet.ts";
import { Output } from "./_output.ts";

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

/**
 * Runs the CLI with `args`; resolves to the process exit code: 0 on
 * success, 1 when `--once` found no engine to watch, 2 for bad flags or an
 * `--adapter` module that cannot be loaded.
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
    if (cli.help) {
      out(USAGE);
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
  const output = new Output(cli, { out, err });
  if (cli.once) return await watchOnce(cli, output);

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  if (options.signal) {
    options.signal.addEventListener("abort", onSignal, { once: true });
  } else {
    for (const s of signals) Deno.addSignalListener(s, onSignal);
  }
  try {
    return await watchLive(cli, output, stop.signal);
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
