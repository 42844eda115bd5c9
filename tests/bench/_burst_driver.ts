// Child of burst_bench.ts: starts or stops many containers at once, in its
// own process so that the burst's work stays off the measuring process.
// Each stdin line is a JSON command; each is answered with a JSON line.
//
//   deno run -A _burst_driver.ts docker|containerd|cri SOCKET DAEMON
//
// (containerd and CRI: the instances the rig's daemon DAEMON serves.)
//
// Commands: {"action": "start" | "stop", "ids": [...]}, for containerd
// with "namespace" (a start is `ctr run -d` of each ID, through the rig's
// Ctr, which keeps runc state and cgroups under the rig's names).
import Docker from "dockerode";
import { mapPool } from "../../engineclient/_async.ts";
import { Ctr } from "../engines/containerd.ts";
import { CriTestClient } from "../engines/cri_client.ts";
import { served } from "../engines/rig.ts";
import { stdinLines } from "./_scale.ts";

interface Command {
  action: "start" | "stop";
  ids: string[];
  namespace?: string;
}

const [engine, socket, daemon] = Deno.args;
// Requests in flight at once: enough to keep the engine busy; ctr is a
// process per call, so fewer of those.
const CONCURRENCY = engine === "containerd" ? 16 : 64;

const docker = engine === "docker"
  ? new Docker({ socketPath: socket })
  : undefined;
const cri = engine === "cri"
  ? CriTestClient.of(served("cri", daemon))
  : undefined;
const ctr = engine === "containerd"
  ? new Ctr(served("containerd", daemon))
  : undefined;

function act(command: Command, id: string): Promise<unknown> {
  const start = command.action === "start";
  if (docker) {
    const c = docker.getContainer(id);
    return start ? c.start() : c.kill();
  }
  if (cri) return start ? cri.startContainer(id) : cri.stopContainer(id);
  const ns = command.namespace!;
  return start
    ? ctr!.run(ns, id)
    : ctr!.ctr("-n", ns, "tasks", "kill", "-s", "SIGKILL", id);
}

try {
  for await (const line of stdinLines()) {
    const command = JSON.parse(line) as Command;
    const t0 = performance.now();
    await mapPool(command.ids, (id) => act(command, id), {
      concurrency: CONCURRENCY,
    });
    console.log(JSON.stringify({ done: true, ms: performance.now() - t0 }));
  }
} finally {
  await cri?.close();
}
