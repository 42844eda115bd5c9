// Child of burst_bench.ts: starts or stops many containers at once, in its
// own process so that the burst's work stays off the measuring process.
// Each stdin line is a JSON command; each is answered with a JSON line.
//
//   deno run -A _burst_driver.ts docker|containerd|cri SOCKET
//
// Commands: {"action": "start" | "stop", "ids": [...]}; containerd's start
// also takes "image", "namespace" and "runcRoot" (ctr run -d of each ID).
import Docker from "dockerode";
import { mapPool } from "../../engineclient/_async.ts";
import { CriTestClient } from "../engines/cri_client.ts";
import { ctr } from "../engines/rig.ts";
import { stdinLines } from "./_scale.ts";

interface Command {
  action: "start" | "stop";
  ids: string[];
  image?: string;
  namespace?: string;
  runcRoot?: string;
}

const [engine, socket] = Deno.args;
// Requests in flight at once: enough to keep the engine busy; ctr is a
// process per call, so fewer of those.
const CONCURRENCY = engine === "containerd" ? 16 : 64;

const docker = engine === "docker"
  ? new Docker({ socketPath: socket })
  : undefined;
const cri = engine === "cri"
  ? new CriTestClient(socket, { image: "unused" })
  : undefined;

function act(command: Command, id: string): Promise<unknown> {
  const start = command.action === "start";
  if (docker) {
    const c = docker.getContainer(id);
    return start ? c.start() : c.kill();
  }
  if (cri) return start ? cri.startContainer(id) : cri.stopContainer(id);
  const ns = command.namespace ?? "default";
  return start
    ? ctr(
      "-n",
      ns,
      "run",
      "-d",
      "--null-io",
      "--runc-root",
      command.runcRoot!,
      command.image!,
      id,
    )
    : ctr("-n", ns, "tasks", "kill", "-s", "SIGKILL", id);
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
