/**
 * Starts bookworm's containerd 1.6 (the system's `/usr/bin/containerd`) on
 * private sockets under a temporary folder, with its CRI plugin on, for the
 * CRI adaptor's fallback test: containerd 1.6 answers `GetContainerEvents`
 * with UNIMPLEMENTED. Needs root; the sandbox image is imported from a tar.
 *
 * @module
 */

/** A running private containerd 1.6. */
export interface Containerd16 extends AsyncDisposable {
  /** The containerd (and CRI) socket. */
  readonly socket: string;
  /** Stops containerd and its shims' containers, removes the folder. */
  stop(): Promise<void>;
}

const BINARY = "/usr/bin/containerd";
const CTR = "/usr/bin/ctr";

/** Whether bookworm's containerd 1.6 is installed. */
export function hasContainerd16(): boolean {
  try {
    return Deno.statSync(BINARY).isFile && Deno.statSync(CTR).isFile;
  } catch {
    return false;
  }
}

async function run(cmd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed: ${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

/**
 * Starts containerd 1.6 with `image` (an OCI/Docker image tar at
 * `imageTar`, named `image`) as CRI sandbox image in namespace `k8s.io`.
 */
export async function startContainerd16(
  imageTar: string,
  image: string,
): Promise<Containerd16> {
  const dir = await Deno.makeTempDir({ prefix: "whalewatcher-ctrd16-" });
  const socket = `${dir}/containerd.sock`;
  const config = `version = 2
root = "${dir}/root"
state = "${dir}/state"
[grpc]
  address = "${socket}"
[ttrpc]
  address = "${socket}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${image}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${dir}/cni/bin"
    conf_dir = "${dir}/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "${dir}/runc"
`;
  await Deno.writeTextFile(`${dir}/config.toml`, config);
  // Bookworm's shim and runc: /usr/bin and /usr/sbin first on PATH.
  const child = new Deno.Command(BINARY, {
    args: ["--config", `${dir}/config.toml`],
    env: { PATH: "/usr/bin:/usr/sbin:/bin:/sbin" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const log = await Deno.open(`${dir}/containerd.log`, {
    write: true,
    create: true,
  });
  // pipeTo closes the file when containerd ends.
  const stderr = child.stderr.pipeTo(log.writable).catch(() => {});
  const stop = async () => {
    try {
      // Pods first: their shims would outlive containerd.
      await removeAllPods(socket).catch(() => {});
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await stderr;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const deadline = performance.now() + 10_000;
    while (true) {
      try {
        await run(CTR, "--address", socket, "version");
        break;
      } catch (err) {
        if (performance.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await k8s(socket, "image", "import", imageTar);
  } catch (err) {
    await stop();
    throw err;
  }
  return { socket, stop, [Symbol.asyncDispose]: stop };
}

/** ctr 1.6 against `socket`, in CRI's namespace k8s.io. */
function k8s(socket: string, ...args: string[]): Promise<string> {
  return run(CTR, "--address", socket, "-n", "k8s.io", ...args);
}

// Kills and deletes the tasks of namespace k8s.io (pods and containers).
async function removeAllPods(socket: string): Promise<void> {
  const ids = (await k8s(socket, "task", "ls", "-q")).split("\n")
    .filter(Boolean);
  for (const id of ids) {
    await k8s(socket, "task", "kill", "-s", "SIGKILL", id).catch(() => {});
  }
  for (const id of ids) {
    for (let i = 0; i < 50; i++) {
      try {
        await k8s(socket, "task", "delete", id);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
}
