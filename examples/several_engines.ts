/**
 * Watches every engine on this machine (or the sockets given) as one fleet:
 * prints all containers with their engine, then the merged events for the
 * given number of seconds (default: until Ctrl-C).
 *
 * ```sh
 * deno run -A examples/several_engines.ts
 * deno run -A examples/several_engines.ts 10 /run/docker.sock /run/containerd/containerd.sock
 * ```
 *
 * @module
 */
import { Fleet } from "../mod.ts";

const [seconds, ...sockets] = Deno.args;
const stop = new AbortController();
const onSigint = () => stop.abort();
Deno.addSignalListener("SIGINT", onSigint);
const timer = Number(seconds) > 0
  ? setTimeout(() => stop.abort(), Number(seconds) * 1000)
  : undefined;

const fleet = new Fleet({
  endpoints: sockets,
  explicitOnly: sockets.length > 0,
  rediscoverIntervalMs: 30_000,
});
await fleet.ready;
for (const { engine } of fleet.engines()) {
  console.log(
    `engine ${engine.type} at ${engine.api} (PID ${engine.pid || "?"})`,
  );
}
// Subscribe and read the containers in one synchronous step: no gap.
const events = fleet.events({ signal: stop.signal });
for (const { engine, container } of fleet.containers()) {
  console.log(`  ${engine.type}  ${container.name}  pid=${container.pid}`);
}
for await (const e of events) {
  console.log(
    `${e.engine.type} ${e.type} ${e.container.name} pid=${e.container.pid}`,
  );
}
clearTimeout(timer);
Deno.removeSignalListener("SIGINT", onSigint);
await fleet.close();
