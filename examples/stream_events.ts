/**
 * Streams the lifecycle events of one engine until Ctrl-C (or for the given
 * number of seconds), one line per event.
 *
 * ```sh
 * deno run -A examples/stream_events.ts docker.com /run/docker.sock
 * deno run -A examples/stream_events.ts cri /run/containerd/containerd.sock 30
 * ```
 *
 * @module
 */
import { createWatcher } from "../mod.ts";

const [type = "docker.com", endpoint, seconds] = Deno.args;

const stop = new AbortController();
const onSigint = () => stop.abort();
Deno.addSignalListener("SIGINT", onSigint);
const timer = seconds
  ? setTimeout(() => stop.abort(), Number(seconds) * 1000)
  : undefined;

await using watcher = await createWatcher(type, endpoint);
const watching = watcher.watch(stop.signal);
await watcher.ready;
// Subscribe and read the portfolio in one synchronous step: no gap between.
const events = watcher.events();
console.log(`watching ${watcher.portfolio.size} containers; Ctrl-C ends`);

for await (const e of events) {
  console.log(
    `${
      new Date(e.timestamp).toISOString()
    } ${e.type} ${e.container.name} pid=${e.container.pid} project=${
      e.project || "-"
    }`,
  );
}
clearTimeout(timer);
Deno.removeSignalListener("SIGINT", onSigint);
await watching.catch(() => {});
