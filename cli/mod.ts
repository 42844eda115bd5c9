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

import { parseCliArgs, USAGE } from "./_args.ts";
import { watchLive, watchOnce } from "./_fleet.ts";
import { prepare, untilStopped } from "./_main.ts";
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
  const cli = await prepare(
    () =>
      parseCliArgs(args, {
        isTty: Deno.stdout.isTerminal(),
        noColor: Deno.noColor,
      }),
    USAGE,
    { out, err },
  );
  if (typeof cli === "number") return cli;
  const output = new Output(cli, { out, err });
  if (cli.once) return await watchOnce(cli, output);
  return await untilStopped(
    options.signal,
    (stop) => watchLive(cli, output, stop),
  );
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
