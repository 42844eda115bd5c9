// Startup with many containers (a script that prints figures): wall time of
// `deno task watch --once --json` against the docker CLI a user would
// compare it with — `docker ps -q` then one `docker inspect` of all — with
// N (default 500) containers on the rig's dockerd. Runs alternate in
// pairs; the ratio is taken pair by pair (the machine's noise cancels)
// and the median reported.
//
//   source <rig dir>/env
//   deno run -A tests/bench/startup_bench.ts [--containers 500] [--pairs 7]
//     [--checkout DIR]
import { parseArgs } from "node:util";
import { rig } from "../engines/rig.ts";
import { DockerFleet } from "./_docker_fleet.ts";
import { checkoutRoot, median, printLoadAverage } from "./_scale.ts";

async function timed(
  cmd: string,
  args: string[],
  options: Deno.CommandOptions = {},
): Promise<{ ms: number; stdout: string }> {
  const t0 = performance.now();
  const out = await new Deno.Command(cmd, {
    ...options,
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.slice(0, 3).join(" ")} failed: ${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  return { ms, stdout: new TextDecoder().decode(out.stdout) };
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      containers: { type: "string", default: "500" },
      pairs: { type: "string", default: "7" },
      checkout: { type: "string" },
    },
  });
  const r = rig();
  if (!r) throw new Error("the rig is not up: source <rig dir>/env first");
  const n = Number(values.containers);
  const root = new URL(checkoutRoot(values.checkout)).pathname;
  const fleet = new DockerFleet(r.dockerSocket, r.image);
  const host = ["-H", `unix://${r.dockerSocket}`];
  try {
    console.log(`starting ${n} containers ...`);
    await fleet.run(n);
    const watch = async () => {
      const { ms, stdout } = await timed(Deno.execPath(), [
        "task",
        "watch",
        "--once",
        "--json",
        "--socket",
        r.dockerSocket,
      ], { cwd: root, env: { NO_COLOR: "1" } });
      const listed = stdout.split("\n").filter((l) =>
        l.includes('"type":"container"')
      ).length;
      if (listed < n) throw new Error(`watch --once listed ${listed} of ${n}`);
      return ms;
    };
    const cli = async () => {
      const ps = await timed("docker", [...host, "ps", "-q", "--no-trunc"]);
      const ids = ps.stdout.split("\n").filter(Boolean);
      const inspect = await timed("docker", [...host, "inspect", ...ids]);
      if (JSON.parse(inspect.stdout).length < n) {
        throw new Error("docker inspect returned too few containers");
      }
      return ps.ms + inspect.ms;
    };
    // What loading the Docker adaptor's npm package costs by itself.
    const bare = () => timed(Deno.execPath(), ["eval", "0"], { cwd: root });
    const dockerode = () =>
      timed(Deno.execPath(), ["eval", 'import "dockerode";'], { cwd: root });
    await watch(); // warm-up: module cache, npm packages
    await cli();
    const ratios: number[] = [], watches: number[] = [], clis: number[] = [];
    const loads: number[] = [];
    for (let i = 0; i < Number(values.pairs); i++) {
      // Alternate which goes first.
      let w: number, c: number;
      if (i % 2 === 0) {
        w = await watch();
        c = await cli();
      } else {
        c = await cli();
        w = await watch();
      }
      watches.push(w);
      clis.push(c);
      loads.push((await dockerode()).ms - (await bare()).ms);
      ratios.push(w / c);
      console.log(
        `pair ${i + 1}: watch --once ${w.toFixed(0)} ms, docker ps + inspect ${
          c.toFixed(0)
        } ms, ratio ${(w / c).toFixed(2)}`,
      );
    }
    console.log(`\nstartup with ${n} containers (median of ${ratios.length})`);
    console.log(
      `   deno task watch --once --json: ${median(watches).toFixed(0)} ms`,
    );
    console.log(
      `   docker ps -q + docker inspect (all): ${median(clis).toFixed(0)} ms`,
    );
    console.log(
      `   ratio (pair by pair): ${median(ratios).toFixed(2)} × the docker CLI`,
    );
    console.log(
      `   of the watch: loading dockerode alone takes ${
        median(loads).toFixed(0)
      } ms (deno eval 'import "dockerode"' − deno eval 0)`,
    );
    printLoadAverage();
  } finally {
    await fleet.removeAll();
  }
}

if (import.meta.main) await main();
