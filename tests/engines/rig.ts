// The test rig as tests see it: socket paths from the environment that
// tests/engines/with_engines.sh (or `source <rig dir>/env`) sets, helpers to
// drive the engines, and `integrationTest`, which fails under CI=true when
// the engines are missing and skips loudly otherwise.

/** The rig's engines. */
export interface Rig {
  /** The rig's temp folder. */
  dir: string;
  /** dockerd's API socket. */
  dockerSocket: string;
  /** containerd's API socket; also the CRI endpoint. */
  containerdSocket: string;
  /** Docker image ref of the busybox test image (runs `sleep infinity`). */
  image: string;
  /** containerd image ref of the same image, in namespaces default and k8s.io. */
  ctrImage: string;
  /** Path of containerd 1.7's `ctr`. */
  ctrBin: string;
  /** Path of rig.sh. */
  script: string;
}

/** The rig from the environment; undefined when its engines are not up. */
export function rig(): Rig | undefined {
  const r = rigFromEnv();
  if (!r) return undefined;
  try {
    Deno.statSync(r.dockerSocket);
    Deno.statSync(r.containerdSocket);
  } catch {
    return undefined;
  }
  return r;
}

// The rig's settings, whether or not its engines answer right now (a test
// may have stopped one).
function rigFromEnv(): Rig | undefined {
  const env = (name: string) => Deno.env.get(name) ?? "";
  const dir = env("WW_RIG_DIR");
  if (!dir) return undefined;
  return {
    dir,
    dockerSocket: env("WW_DOCKER_SOCK"),
    containerdSocket: env("WW_CONTAINERD_SOCK"),
    image: env("WW_RIG_IMAGE"),
    ctrImage: env("WW_RIG_CTR_IMAGE"),
    ctrBin: env("WW_RIG_CTR"),
    script: env("WW_RIG_SCRIPT"),
  };
}

let skipNoted = false;

/**
 * Registers an integration test that needs the rig. Without the rig it
 * fails under CI=true, and is skipped with one loud line otherwise.
 */
export function integrationTest(
  name: string,
  fn: (rig: Rig) => Promise<void>,
): void {
  const r = rig();
  if (r) {
    Deno.test({ name, fn: () => fn(r) });
    return;
  }
  if (Deno.env.get("CI") === "true") {
    Deno.test({
      name,
      fn: () => {
        throw new Error(
          "integration test needs the engines of the test rig, but WW_RIG_DIR is unset or its sockets are missing (run `deno task test` as root)",
        );
      },
    });
    return;
  }
  if (!skipNoted) {
    skipNoted = true;
    console.error(
      "\n!!! INTEGRATION TESTS SKIPPED: the test rig's engines are not up (run `deno task test` as root to start them) !!!\n",
    );
  }
  Deno.test({ name, ignore: true, fn: () => {} });
}

function need(): Rig {
  const r = rigFromEnv();
  if (!r) throw new Error("the test rig is not up (WW_RIG_DIR unset)");
  return r;
}

/** Runs a command; returns its stdout, throws with its stderr on failure. */
export async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { PATH: `/usr/sbin:/usr/bin:/sbin:/bin` },
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${out.code}): ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
  return stdout;
}

/** The docker CLI against the rig's dockerd; returns stdout, trimmed. */
export async function docker(...args: string[]): Promise<string> {
  return (await run("docker", ["-H", `unix://${need().dockerSocket}`, ...args]))
    .trim();
}

/** containerd 1.7's ctr against the rig's containerd; returns stdout, trimmed. */
export async function ctr(...args: string[]): Promise<string> {
  const r = need();
  return (await run(r.ctrBin, ["--address", r.containerdSocket, ...args]))
    .trim();
}

function pidFrom(file: string): number {
  try {
    return Number(Deno.readTextFileSync(file).trim()) || 0;
  } catch {
    return 0;
  }
}

/** PID of the rig's dockerd (0 when it is down). */
export function dockerdPid(): number {
  return pidFrom(`${need().dir}/dockerd.pid`);
}

/** PID of the rig's containerd (0 when it is down). */
export function containerdPid(): number {
  return pidFrom(`${need().dir}/containerd.pid`);
}

/** Stops one of the rig's engines (TERM by default) and waits until it is gone. */
export async function stopEngine(
  engine: "dockerd" | "containerd",
  options: { signal?: "SIGKILL" | "SIGTERM" } = {},
): Promise<void> {
  const r = need();
  const signal = options.signal === "SIGKILL" ? "KILL" : "TERM";
  await run("bash", [r.script, `stop-${engine}`, signal]);
}

/** Starts one of the rig's engines again and waits until it answers. */
export async function startEngine(
  engine: "dockerd" | "containerd",
): Promise<void> {
  await run("bash", [need().script, `start-${engine}`]);
}

/** Resolves when `check` returns true; rejects after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; what?: string } = {},
): Promise<void> {
  const deadline = performance.now() + (options.timeoutMs ?? 10_000);
  while (!(await check())) {
    if (performance.now() > deadline) {
      throw new Error(`timed out waiting for ${options.what ?? "condition"}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
