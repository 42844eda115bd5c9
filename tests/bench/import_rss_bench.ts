// Memory of a light import (a script that prints figures; `deno bench`
// ignores it):
//
//   source <rig dir>/env && deno run -A tests/bench/import_rss_bench.ts [CHECKOUT]
//
// 1. RSS after importing the root module (and each subpath) against a bare
//    Deno, median of 5 fresh processes each.
// 2. Peak RSS of `deno task watch --once --json` (the task's own flags) on
//    a Docker-only host (only DOCKER_HOST names an engine) and on a
//    containerd-only host (only CONTAINERD_ADDRESS), median of 5.
// CHECKOUT (default: this one) measures another checkout of the module,
// for a before/after comparison.
import { rig } from "../engines/rig.ts";
import { taskPermissions } from "../_task.ts";

const ROOT = Deno.args[0]
  ? new URL(Deno.args[0].replace(/\/?$/, "/"), `file://${Deno.cwd()}/`).href
  : new URL("../../", import.meta.url).href;
const ROOT_PATH = new URL(ROOT).pathname;
const RUNS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function rssAfter(code: string): Promise<number> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    cwd: ROOT_PATH,
    stdout: "piped",
    stderr: "null",
  }).output();
  return Number(new TextDecoder().decode(out.stdout).trim());
}

async function importRss(specifier?: string): Promise<number> {
  const load = specifier ? `await import(${JSON.stringify(specifier)});` : "";
  const samples = [];
  for (let i = 0; i < RUNS; i++) {
    samples.push(
      await rssAfter(`${load} console.log(Deno.memoryUsage().rss);`),
    );
  }
  return median(samples);
}

/**
 * The watch task's flags, as `deno task` expands them; the runs have no
 * HOME (nothing of a user's configuration is read).
 */
function watchFlags(): string[] {
  return taskPermissions("watch", { INIT_CWD: ROOT_PATH }, {
    drop: ["HOME"],
    root: ROOT_PATH,
  });
}

// Peak RSS (VmHWM) of one CLI run, polled from /proc until it exits.
async function cliPeak(env: Record<string, string>): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...watchFlags(),
      `${ROOT_PATH}cli/mod.ts`,
      "--once",
      "--json",
    ],
    cwd: ROOT_PATH,
    env: { ...env, INIT_CWD: ROOT_PATH, NO_COLOR: "1" },
    clearEnv: true,
    stdout: "null",
    stderr: "null",
  }).spawn();
  let peak = 0;
  const done = child.status.then((s) => s);
  while (true) {
    try {
      const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      peak = Math.max(peak, kb * 1024);
    } catch {
      // gone
    }
    const finished = await Promise.race([
      done.then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), 5)),
    ]);
    if (finished) break;
  }
  const status = await done;
  if (!status.success) throw new Error(`cli failed with ${status.code}`);
  return peak;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

console.log(`checkout: ${ROOT_PATH}`);
const bare = await importRss();
console.log(`bare Deno:                         ${mb(bare)}`);
for (const entry of ["mod.ts", "docker.ts", "containerd.ts", "cri.ts"]) {
  try {
    await Deno.stat(new URL(entry, ROOT));
  } catch {
    console.log(`import ${entry}: not in this checkout`);
    continue;
  }
  const rss = await importRss(ROOT + entry);
  console.log(
    `import ${entry.padEnd(14)}            ${mb(rss)} (+${mb(rss - bare)})`,
  );
}

const r = rig();
if (!r) {
  console.log("CLI figures need the rig: source <rig dir>/env");
  Deno.exit(0);
}
const path = { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" };
const dockerOnly = [];
const containerdOnly = [];
for (let i = 0; i < RUNS; i++) {
  dockerOnly.push(
    await cliPeak({ ...path, DOCKER_HOST: `unix://${r.dockerSocket}` }),
  );
  containerdOnly.push(
    await cliPeak({ ...path, CONTAINERD_ADDRESS: r.containerdSocket }),
  );
}
console.log(
  `watch --once, Docker-only host:     peak ${mb(median(dockerOnly))}`,
);
console.log(
  `watch --once, containerd-only host: peak ${mb(median(containerdOnly))}`,
);
