// A private podman Docker-compatible API service for tests: its own storage,
// run root and config (the ulimit, network, cgroup and events settings
// ENGINES.md lists), the busybox test image, and a docker CLI against it.
import { run } from "./rig.ts";

const CACHE = Deno.env.get("WW_RIG_CACHE") ?? "/var/cache/whalewatcher-rig";
export const PODMAN_IMAGE = "ww-busybox:latest";

/** A running podman service. */
export interface Podman extends AsyncDisposable {
  /** The Docker-compatible API socket. */
  socket: string;
  /** The service process's PID. */
  pid: number;
  /** The docker CLI against this service; returns stdout, trimmed. */
  docker(...args: string[]): Promise<string>;
  /** The podman CLI on the same storage (works while the service is down). */
  podman(...args: string[]): Promise<string>;
  /** Kills the API service (containers live on); `startService` restarts it. */
  stopService(signal?: Deno.Signal): Promise<void>;
  /** Starts the API service again and waits until it answers. */
  startService(): Promise<void>;
  /** Stops the service and its containers, removes the folder. */
  stop(): Promise<void>;
}

/** Whether podman is installed. */
export function hasPodman(): boolean {
  try {
    return Deno.statSync("/usr/bin/podman").isFile;
  } catch {
    return false;
  }
}

/** Starts a private podman service under a new folder in /run. */
export async function startPodman(): Promise<Podman> {
  const dir = await Deno.makeTempDir({ dir: "/run", prefix: "ww-podman." });
  const conf = `${dir}/containers.conf`;
  await Deno.writeTextFile(
    conf,
    `[containers]
default_ulimits = ["nofile=16384:16384", "nproc=4096:4096"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
`,
  );
  const env = { CONTAINERS_CONF: conf };
  const global = [
    "--root",
    `${dir}/storage`,
    "--runroot",
    `${dir}/runroot`,
    "--tmpdir",
    `${dir}/tmp`,
    "--storage-driver=overlay",
  ];
  const podman = async (...args: string[]) => {
    const out = await new Deno.Command("podman", {
      args: [...global, ...args],
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(
        `podman ${args.join(" ")} failed: ${
          new TextDecoder().decode(out.stderr)
        }`,
      );
    }
    return new TextDecoder().decode(out.stdout).trim();
  };
  await podman(
    "import",
    "-c",
    'CMD ["/bin/sleep","infinity"]',
    `${CACHE}/busybox-rootfs.tar`,
    PODMAN_IMAGE,
  );
  const socket = `${dir}/podman.sock`;
  let service: Deno.ChildProcess | undefined;
  const startService = async () => {
    await Deno.remove(socket).catch(() => {});
    const child = new Deno.Command("podman", {
      args: [...global, "system", "service", "--time=0", `unix://${socket}`],
      env,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    service = child;
    const deadline = performance.now() + 15_000;
    while (true) {
      try {
        await Deno.lstat(socket);
        await run("curl", ["-sf", "--unix-socket", socket, "http://d/_ping"]);
        return;
      } catch (err) {
        if (performance.now() > deadline) {
          child.kill("SIGKILL");
          await child.status;
          throw new Error(`podman service did not answer on ${socket}: ${err}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const stopService = async (signal: Deno.Signal = "SIGTERM") => {
    const child = service;
    service = undefined;
    if (!child) return;
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
    await child.status;
  };
  await startService();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await podman("rm", "-af", "-t", "0").catch(() => {});
    await stopService();
    const mounts = (await Deno.readTextFile("/proc/mounts")).split("\n")
      .map((l) => l.split(" ")[1]).filter((m) => m?.startsWith(dir)).sort()
      .reverse();
    for (const m of mounts) await run("umount", ["-l", m]).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  return {
    socket,
    get pid() {
      return service?.pid ?? 0;
    },
    docker: async (...args: string[]) =>
      (await run("docker", ["-H", `unix://${socket}`, ...args])).trim(),
    podman,
    stopService,
    startService,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
