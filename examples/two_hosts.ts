/**
 * Watches two Docker hosts (or more) as one fleet — local sockets, TLS
 * (`tcp://`, certificates from `DOCKER_CERT_PATH`), SSH (`ssh://`, keys from
 * the agent or `~/.ssh`, host keys checked against `~/.ssh/known_hosts`) or
 * docker contexts and podman connections by name (`context=NAME`): prints
 * every container with its host and engine ID, then the merged events for
 * the given number of seconds (0: until Ctrl-C). A host that drops off gets
 * its containers' `exited` lines; when it comes back, `started` for what
 * runs.
 *
 * ```sh
 * deno run -A examples/two_hosts.ts 0 /var/run/docker.sock ssh://me@build-1
 * deno run -A examples/two_hosts.ts 60 context=build-1 context=build-2
 * ```
 *
 * @module
 */
import { Fleet, type FleetEngineEvent, type FleetEvent } from "../mod.ts";

const [seconds, ...hosts] = Deno.args;
if (hosts.length === 0) {
  console.error(
    "usage: two_hosts.ts SECONDS ENDPOINT|context=NAME [ENDPOINT|context=NAME ...]",
  );
  Deno.exit(2);
}
const stop = new AbortController();
const onSigint = () => stop.abort();
Deno.addSignalListener("SIGINT", onSigint);
const timer = Number(seconds) > 0
  ? setTimeout(() => stop.abort(), Number(seconds) * 1000)
  : undefined;

const contexts = hosts.filter((h) => h.startsWith("context="))
  .map((h) => h.slice("context=".length));
const fleet = new Fleet({
  endpoints: hosts.filter((h) => !h.startsWith("context=")),
  contexts,
  explicitOnly: true,
  rediscoverIntervalMs: 5_000,
});
const host = (e: FleetEvent | FleetEngineEvent) =>
  `${e.engine.api} (engine ${e.engine.id?.slice(0, 9) || "?"})`;

// Subscribed before the first engine is added: the initial containers
// arrive as `started` events of each engine, then `engine-ready`.
for await (const e of fleet.events({ engines: true, signal: stop.signal })) {
  if (e.type.startsWith("engine-")) {
    const error = (e as FleetEngineEvent).error;
    console.log(`${host(e)}: ${e.type}${error ? `: ${error}` : ""}`);
    continue;
  }
  const { container } = e as FleetEvent;
  console.log(
    `${host(e)}: ${e.type} ${container.name} pid=${container.pid}`,
  );
}
for (const r of fleet.lastDiscovery.rejected) {
  console.error(`not watched: ${r.endpoint}: ${r.message}`);
}
await fleet.close();
clearTimeout(timer);
Deno.removeSignalListener("SIGINT", onSigint);
