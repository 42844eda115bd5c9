// Idle cost of a watcher on a busy host (a script that prints figures):
// N (default 500) busybox containers on the rig's dockerd, a watcher with
// default settings idle for S seconds (default 300) after its initial
// sync: engine API calls it made (counted on the wire by the tests' socket
// proxy, which runs in this process), and CPU seconds used by dockerd and
// by the watcher's process (utime + stime from /proc/PID/stat). Run for this
// checkout and for another one (the code before cheap reconciliation), one
// after the other, and for no watcher at all (dockerd's own idle CPU).
//
//   source <rig dir>/env
//   git worktree add /tmp/before <commit before>   # once
//   deno run -A tests/bench/idle_cost_bench.ts --before /tmp/before \
//     [--containers 500] [--seconds 300] [--rounds 1] [--no-baseline]
//     [--daemon NAME]
//
// --daemon picks the rig's dockerd (`sid-dockerd`: Docker 28); default:
// the first.
//
// With --rounds R the runs alternate (before, after, before, after, ...).
import { parseArgs } from "node:util";
import { delay } from "../../engineclient/_async.ts";
import { SocketProxy } from "../engines/proxy.ts";
import {
  type EngineInstance,
  enginePid,
  primary,
  rig,
  served,
  uniq,
} from "../engines/rig.ts";
import { DockerFleet } from "./_docker_fleet.ts";
import {
  checkoutRoot,
  cpuSeconds,
  JsonChild,
  median,
  printLoadAverage,
} from "./_scale.ts";

interface Idle {
  calls: number;
  dockerdCpu: number;
  watcherCpu: number;
  syncs: number;
  /** Sessions started again (a lost stream) and stalls, while idle. */
  resyncs: number;
  stalls: number;
}

interface ChildFigures {
  calls: number;
  syncs: number;
  resyncs?: number;
  stalls?: number;
}

const CHILD = new URL("./_idle_watcher.ts", import.meta.url).pathname;

async function idleRun(
  root: string,
  seconds: number,
  engine: EngineInstance,
): Promise<Idle> {
  const dockerd = enginePid(engine);
  await using proxy = new SocketProxy(engine.socket, {
    path: `${rig()!.dir}/${uniq("idle")}.sock`,
  });
  const child = new JsonChild(Deno.execPath(), [
    "run",
    "-A",
    "--config",
    new URL("deno.json", root).pathname,
    CHILD,
    root,
    proxy.address,
  ], {});
  try {
    const ready = await child.next<ChildFigures>();
    const calls0 = proxy.requests.length;
    const d0 = cpuSeconds(dockerd), w0 = cpuSeconds(child.pid);
    await delay(seconds * 1000);
    const d1 = cpuSeconds(dockerd), w1 = cpuSeconds(child.pid);
    const calls1 = proxy.requests.length;
    await child.send("stop");
    const end = await child.next<ChildFigures>();
    if (end.calls - ready.calls !== calls1 - calls0) {
      console.log(
        `(the client counted ${end.calls - ready.calls} calls, the wire ${
          calls1 - calls0
        })`,
      );
    }
    return {
      calls: calls1 - calls0,
      dockerdCpu: d1 - d0,
      watcherCpu: w1 - w0,
      syncs: end.syncs - ready.syncs,
      resyncs: (end.resyncs ?? 0) - (ready.resyncs ?? 0),
      stalls: (end.stalls ?? 0) - (ready.stalls ?? 0),
    };
  } finally {
    await child.finish();
  }
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      before: { type: "string" },
      containers: { type: "string", default: "500" },
      seconds: { type: "string", default: "300" },
      rounds: { type: "string", default: "1" },
      "no-baseline": { type: "boolean", default: false },
      daemon: { type: "string" },
    },
  });
  const r = rig();
  if (!r) throw new Error("the rig is not up: source <rig dir>/env first");
  const n = Number(values.containers);
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const after = checkoutRoot();
  const before = values.before ? checkoutRoot(values.before) : undefined;
  const engine = values.daemon
    ? served("docker", values.daemon)
    : primary("docker");
  const fleet = new DockerFleet(engine.socket, r.image);
  try {
    console.log(`starting ${n} containers ...`);
    await fleet.run(n);
    const runs: Record<string, Idle[]> = { before: [], after: [] };
    const baselines: number[] = [];
    for (let round = 0; round < rounds; round++) {
      if (!values["no-baseline"]) {
        const pid = enginePid(engine);
        const d0 = cpuSeconds(pid);
        await delay(seconds * 1000);
        baselines.push(cpuSeconds(pid) - d0);
        console.log(
          `no watcher: dockerd ${baselines.at(-1)!.toFixed(2)} CPU s`,
        );
      }
      const order: [string, string | undefined][] = [
        ["before", before],
        ["after", after],
      ];
      for (const [name, root] of order) {
        if (!root) continue;
        const idle = await idleRun(root, seconds, engine);
        runs[name].push(idle);
        console.log(
          `${name}: ${idle.calls} calls, ${idle.syncs} passes, dockerd ${
            idle.dockerdCpu.toFixed(2)
          } CPU s, watcher ${
            idle.watcherCpu.toFixed(2)
          } CPU s, ${idle.resyncs} resyncs, ${idle.stalls} stalls`,
        );
      }
    }
    const med = (name: string, key: keyof Idle) =>
      median(runs[name].map((i) => i[key]));
    console.log(
      `\nidle ${seconds} s, ${n} containers, default settings (median of ${rounds})`,
    );
    const row = (name: string) =>
      `   ${name.padEnd(6)}  calls ${
        String(med(name, "calls")).padStart(6)
      }  dockerd ${
        med(name, "dockerdCpu").toFixed(2).padStart(6)
      } CPU s  watcher ${med(name, "watcherCpu").toFixed(2).padStart(6)} CPU s`;
    if (baselines.length) {
      console.log(
        `   no watcher: dockerd ${median(baselines).toFixed(2)} CPU s`,
      );
    }
    if (before) console.log(row("before"));
    console.log(row("after"));
    if (before) {
      const ratio = (key: keyof Idle) =>
        med("after", key) > 0
          ? (med("before", key) / med("after", key)).toFixed(1)
          : "∞";
      console.log(
        `   before / after: calls ${ratio("calls")} ×, dockerd CPU ${
          ratio("dockerdCpu")
        } ×, watcher CPU ${
          ratio("watcherCpu")
        } × (target: calls O(1) per pass: ≤ 1 per pass + events)`,
      );
    }
    printLoadAverage();
  } finally {
    await fleet.removeAll();
  }
}

if (import.meta.main) await main();
