// Ready time over SSH against the local socket (a script that prints
// figures; `deno bench` ignores it):
//
//   source <rig dir>/env && deno run -A tests/bench/remote_bench.ts [N] [ROUNDS]
//
// With N (default 100) running containers on the rig's dockerd, watch() →
// ready through its unix socket, through a private sshd on 127.0.0.1
// (`docker system dial-stdio`, dockerode's SSH: one SSH connection per API
// call) and through the same sshd's socket forwarding (podman's way);
// ROUNDS (default 7) rounds, the kinds alternating; medians and ratios.
import { type DockerOptions, watchDocker } from "../../docker.ts";
import { primaryDocker } from "../engines/docker.ts";
import { rig } from "../engines/rig.ts";
import { startSshd } from "../engines/sshd.ts";

const N = Number(Deno.args[0] ?? 100);
const ROUNDS = Number(Deno.args[1] ?? 7);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function readyMs(endpoint: string, engine?: DockerOptions) {
  const watcher = watchDocker(endpoint, { engine });
  const t0 = performance.now();
  const watching = watcher.watch();
  await watcher.ready;
  const ms = performance.now() - t0;
  const size = watcher.portfolio.size;
  await watcher.close();
  await watching;
  return { ms, size };
}

const r = rig();
if (!r) throw new Error("the rig is not up: source <rig dir>/env first");
const sshd = await startSshd(r.dir, { dockerSocket: r.dockerSocket });
// Removes the containers it started when disposed.
await using cli = primaryDocker();
try {
  const ssh = {
    identityFile: sshd.clientKey,
    knownHosts: sshd.knownHosts,
    agent: false as const,
  };
  const batch = 10;
  for (let i = 0; i < N; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, N - i) }, () => cli.run()),
    );
  }
  const kinds: [string, string, DockerOptions | undefined][] = [
    ["unix socket", r.dockerSocket, undefined],
    ["ssh (dial-stdio)", sshd.url, { ssh }],
    ["ssh (socket forwarding)", `${sshd.url}${r.dockerSocket}`, { ssh }],
  ];
  const times = new Map<string, number[]>(kinds.map(([k]) => [k, []]));
  let size = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const [kind, endpoint, options] of kinds) {
      const got = await readyMs(endpoint, options);
      size = got.size;
      times.get(kind)!.push(got.ms);
    }
  }
  const base = median(times.get("unix socket")!);
  console.log(
    `ready with ${size} containers (${N} started by the bench), median of ${ROUNDS} alternating rounds:`,
  );
  for (const [kind] of kinds) {
    const m = median(times.get(kind)!);
    console.log(
      `  ${kind.padEnd(24)} ${m.toFixed(0).padStart(6)} ms  ×${
        (m / base).toFixed(1)
      }  (all: ${times.get(kind)!.map((t) => t.toFixed(0)).join(", ")})`,
    );
  }
} finally {
  await sshd.stop();
}
