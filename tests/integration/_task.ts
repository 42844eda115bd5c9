// The `watch` task's `deno run` permission flags, from deno.json, with its
// `$NAME`s expanded as `deno task` expands them (INIT_CWD is where the user
// ran it). An unset name fails: an empty entry in an --allow list would
// grant everything.
import { assert, assertEquals } from "../_assert.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The task's `--allow-*` flags, expanded with `env`. */
export function watchTaskPermissions(
  env: Record<string, string | undefined>,
): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`));
  const words = (config.tasks.watch as string).split(/\s+/);
  assertEquals(words.slice(0, 2), ["deno", "run"]);
  assert(!words.includes("-A") && !words.includes("--allow-all"));
  return words.slice(2).filter((w) => w.startsWith("--allow-")).map((w) =>
    w.replace(/\$([A-Z_][A-Z0-9_]*)/g, (_, name: string) => {
      const value = env[name];
      assert(value, `the watch task uses $${name}, which is unset`);
      return value;
    })
  );
}
