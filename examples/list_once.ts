/**
 * Lists the alive containers of one engine once, grouped by compose project.
 *
 * ```sh
 * deno run -A examples/list_once.ts docker.com /run/docker.sock
 * deno run -A examples/list_once.ts containerd.io /run/containerd/containerd.sock
 * ```
 *
 * @module
 */
import { createWatcher } from "../mod.ts";

const [type = "docker.com", endpoint] = Deno.args;

await using watcher = await createWatcher(type, endpoint, { backoff: false });
const watching = watcher.watch();
await watcher.ready;

const portfolio = watcher.portfolio;
console.log(`${watcher.type} at ${watcher.api}: ${portfolio.size} containers`);
for (const name of portfolio.projectNames()) {
  console.log(name === "" ? "(no project)" : `project ${name}`);
  for (const c of portfolio.project(name)!.containers()) {
    console.log(`  ${c.name} pid=${c.pid}${c.paused ? " paused" : ""}`);
  }
}

await watcher.close();
await watching.catch(() => {});
