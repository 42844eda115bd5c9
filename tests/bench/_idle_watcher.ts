// Child of idle_cost_bench.ts and memory_bench.ts: a watcher of one Docker
// socket with default settings, from the checkout at ROOT. It prints a JSON
// line when ready, then answers each stdin line ("measure" or "stop") with
// its figures; "stop" ends it.
//
//   deno run -A [--v8-flags=--expose-gc] _idle_watcher.ts ROOT SOCKET
import { stdinLines } from "./_scale.ts";

const [root, socket] = Deno.args;
const { watchDocker } = await import(new URL("docker.ts", root).href);
const watcher = watchDocker(socket);
const watching = watcher.watch();
let events = 0;
const counting = (async () => {
  for await (const _ of watcher.events({ queueSize: 1_000_000 })) events++;
})();
await watcher.ready;

const gc = (globalThis as { gc?: () => void }).gc;
function figures(extra: Record<string, unknown> = {}) {
  if (gc) {
    gc();
    gc();
  }
  const memory = Deno.memoryUsage();
  return JSON.stringify({
    ...extra,
    calls: watcher.engine.stats?.calls ?? 0,
    syncs: watcher.syncCount,
    resyncs: watcher.stats.resyncs,
    stalls: watcher.stats.stalls,
    failures: watcher.stats.failures,
    size: watcher.portfolio.size,
    events,
    rss: memory.rss,
    heap: memory.heapUsed,
    external: memory.external,
    gc: gc !== undefined,
  });
}

console.log(figures({ ready: true }));
for await (const line of stdinLines()) {
  if (line === "measure") console.log(figures());
  if (line === "stop") break;
}
const last = figures({ stopped: true });
await watcher.close();
await watching;
await counting;
console.log(last);
