// A task's `deno run` command line from deno.json, with its `$NAME`s
// expanded as `deno task` expands them (INIT_CWD is where the user ran it,
// HOME the user's home). An unset name fails: an empty entry in an --allow
// list would grant everything.
import { assert, assertEquals } from "./_assert.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** The tasks that run the module with a fixed set of permissions. */
export type RunTask = "watch" | "serve";

/**
 * The words of the task after `deno run` (flags, then the module),
 * unexpanded; from the deno.json in `root` (default: this checkout).
 */
export function taskArgs(task: RunTask, root: string = ROOT): string[] {
  const config = JSON.parse(
    Deno.readTextFileSync(`${root.replace(/\/?$/, "/")}deno.json`),
  );
  const words = (config.tasks[task] as string).split(/\s+/);
  assertEquals(words.slice(0, 2), ["deno", "run"]);
  assert(!words.includes("-A") && !words.includes("--allow-all"));
  return words.slice(2);
}

/**
 * The task's `--allow-*` flags, expanded with `env`. A list entry that uses
 * a name in `drop` is left out (an image has no INIT_CWD; a run without
 * HOME reads nothing there); `root` as for {@linkcode taskArgs}.
 */
export function taskPermissions(
  task: RunTask,
  env: Record<string, string | undefined>,
  options: { drop?: string[]; root?: string } = {},
): string[] {
  const dropped = new Set(options.drop ?? []);
  const expand = (text: string) =>
    text.replace(/\$([A-Z_][A-Z0-9_]*)/g, (_, name: string) => {
      const value = env[name];
      assert(value, `the ${task} task uses $${name}, which is unset`);
      return value;
    });
  return taskArgs(task, options.root).filter((w) => w.startsWith("--allow-"))
    .map((w) => {
      const eq = w.indexOf("=");
      if (eq < 0) return w;
      const list = w.slice(eq + 1).split(",").filter((entry) =>
        ![...entry.matchAll(/\$([A-Z_][A-Z0-9_]*)/g)].some((m) =>
          dropped.has(m[1])
        )
      );
      return `${w.slice(0, eq)}=${list.map(expand).join(",")}`;
    });
}

/** What a finished command printed, decoded, and its exit code. */
export interface CommandOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command` to its end (stdout and stderr piped) and decodes both. */
export async function outputOf(command: Deno.Command): Promise<CommandOutput> {
  const out = await command.output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/**
 * A new temp folder under /run (or the user's runtime folder): the watch
 * task may open sockets there.
 */
export async function runtimeDir(): Promise<string> {
  const base = Deno.env.get("XDG_RUNTIME_DIR") ??
    (Deno.uid() === 0 ? "/run" : undefined);
  if (!base) throw new Error("no /run folder this user may write");
  return await Deno.makeTempDir({ dir: base, prefix: "ww-toy." });
}
