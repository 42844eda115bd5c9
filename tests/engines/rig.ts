// The test rig as tests see it: the engine instances that
// tests/engines/rig.sh started (DIR/engines.jsonl, found through the
// WW_RIG_DIR that with_engines.sh or `source <rig dir>/env` sets), their
// daemons' control, and the registration of integration tests: once, or
// once per engine instance of a kind, named after the engine's version.

/** The kinds of engine instance the rig runs. */
export type EngineKind = "docker" | "podman" | "containerd" | "cri";

/** The engine type whalewatcher reports for each kind (podman: its alias). */
export const ENGINE_TYPE: Readonly<Record<EngineKind, string>> = {
  docker: "docker.com",
  podman: "podman.io",
  containerd: "containerd.io",
  cri: "cri",
};

/** One engine instance of the rig: one line of DIR/engines.jsonl. */
export interface EngineInstance {
  kind: EngineKind;
  /** The daemon's version as it reports it, e.g. `20.10.24+dfsg1`. */
  version: string;
  /** Kind and short version, e.g. `docker 20.10.24`: test names and the summary use it. */
  label: string;
  /** The rig daemon serving it (for stopping and starting). */
  daemon: string;
  /** The daemon's PID file. */
  pidFile: string;
  /** Its API socket. */
  socket: string;
  /** containerd: its `ctr` (Debian sid's runs in the rig's sid chroot). */
  ctr?: string;
  /** docker, podman: the docker CLI for it (`docker`, or sid's in the chroot). */
  docker?: string;
  /** docker: the version of the CLI's `docker compose` plugin, where it has one. */
  compose?: string;
  /** Where runc keeps the state of this engine's containers (of the tests' tasks, for containerd). */
  runcRoot?: string;
  /** containerd: where `ctr` keeps its FIFOs. */
  fifoDir?: string;
  /** containerd, CRI: the cgroup parent of containers the tests start. */
  cgroupParent?: string;
  /** CRI: whether the runtime implements GetContainerEvents. */
  events?: boolean;
  /** docker: the daemon name of the containerd below it. */
  containerd?: string;
  /** docker: its containers' namespace in that containerd (default `moby`). */
  namespace?: string;
  /** docker: the port it also listens on, on 127.0.0.1 with `--tlsverify`. */
  tcpPort?: number;
  /** docker, podman: flags every `docker run`/`create` gets. */
  runFlags?: string[];
  /** podman: the podman command line on the service's storage. */
  podman?: string[];
  /** Environment for the engine's command line tools. */
  env?: Record<string, string>;
}

/** The rig's engines. */
export interface Rig {
  /** The rig's temp folder. */
  dir: string;
  /** The folder's name: the rig's unique name and cgroup parent. */
  name: string;
  /** Path of rig.sh. */
  script: string;
  /** Docker image ref of the busybox test image (runs `sleep infinity`). */
  image: string;
  /** containerd image ref of the same image (namespaces default and k8s.io). */
  ctrImage: string;
  /** The image as a `docker save` tar, for other namespaces. */
  imageTar: string;
  /** Every engine instance. */
  engines: EngineInstance[];
  /** The first dockerd's API socket. */
  dockerSocket: string;
  /** The first containerd's API socket; also its CRI endpoint. */
  containerdSocket: string;
}

function label(kind: EngineKind, version: string): string {
  const short = version.replace(/[+~].*$/, "");
  return kind === "cri" ? `cri containerd ${short}` : `${kind} ${short}`;
}

let cached: Rig | undefined;

// The rig's settings, whether or not its engines answer right now (a test
// may have stopped one).
function rigFromEnv(): Rig | undefined {
  const dir = Deno.env.get("WW_RIG_DIR") ?? "";
  if (!dir) return undefined;
  if (cached?.dir === dir) return cached;
  let lines: string[];
  try {
    lines = Deno.readTextFileSync(`${dir}/engines.jsonl`).split("\n");
  } catch {
    return undefined;
  }
  const engines = lines.filter(Boolean).map((l) => {
    const e = JSON.parse(l) as Omit<EngineInstance, "label">;
    return { ...e, label: label(e.kind, e.version) };
  });
  const first = (kind: EngineKind) =>
    engines.find((e) => e.kind === kind)?.socket ?? "";
  cached = {
    dir,
    name: dir.split("/").pop()!,
    script: Deno.env.get("WW_RIG_SCRIPT") ??
      new URL("./rig.sh", import.meta.url).pathname,
    image: Deno.env.get("WW_RIG_IMAGE") ?? "",
    ctrImage: Deno.env.get("WW_RIG_CTR_IMAGE") ?? "",
    imageTar: `${dir}/image.tar`,
    engines,
    dockerSocket: first("docker"),
    containerdSocket: first("containerd"),
  };
  return cached;
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

/** The rig (its engines may be down right now); throws when there is none. */
export function need(): Rig {
  const r = rigFromEnv();
  if (!r) throw new Error("the test rig is not up (WW_RIG_DIR unset)");
  return r;
}

/** The rig's engine instances of one kind. */
export function engines(kind: EngineKind): EngineInstance[] {
  return need().engines.filter((e) => e.kind === kind);
}

/** The first engine instance of a kind (the rig-wide tests' engine). */
export function primary(kind: EngineKind): EngineInstance {
  const e = engines(kind)[0];
  if (!e) throw new Error(`the test rig has no ${kind} engine`);
  return e;
}

/** The engine instance of a kind served by a daemon. */
export function served(kind: EngineKind, daemon: string): EngineInstance {
  const e = engines(kind).find((e) => e.daemon === daemon);
  if (!e) throw new Error(`the rig's daemon ${daemon} serves no ${kind}`);
  return e;
}

let skipNoted = false;

function register(name: string, fn: (() => Promise<void>) | undefined) {
  if (fn) {
    Deno.test({ name, fn });
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

/**
 * Registers an integration test that needs the rig. Without the rig it
 * fails under CI=true, and is skipped with one loud line otherwise.
 */
export function integrationTest(
  name: string,
  fn: (rig: Rig) => Promise<void>,
): void {
  const r = rig();
  register(name, r && (() => fn(r)));
}

/**
 * Registers an integration test once per engine instance of `kind`, named
 * `<kind> <version>: <name>` (the suite's summary counts tests per engine
 * version by that prefix). `where` keeps only the instances that have what
 * the test needs (`what`, for the failure when none has it).
 */
export function engineTest(
  kind: EngineKind,
  name: string,
  fn: (engine: EngineInstance, rig: Rig) => Promise<void>,
  options: { where?: (engine: EngineInstance) => boolean; what?: string } = {},
): void {
  const r = rig();
  if (!r) {
    register(`${kind}: ${name}`, undefined);
    return;
  }
  const where = options.where ?? (() => true);
  const chosen = r.engines.filter((e) => e.kind === kind && where(e));
  if (chosen.length === 0) {
    Deno.test(`${kind}: ${name}`, () => {
      throw new Error(
        `no ${kind} engine of the rig has ${options.what ?? "what it needs"}`,
      );
    });
  }
  for (const e of chosen) register(`${e.label}: ${name}`, () => fn(e, r));
}

/**
 * A registrar of integration tests run once per engine instance of `kind`
 * (like {@linkcode engineTest}), each given a helper bound to its engine:
 * `make(engine)`, disposed after the test (removing what it made).
 *
 * @example
 * ```ts
 * import { DockerCli } from "./docker.ts";
 * const dockerTest = testsOf("docker", DockerCli.of);
 * dockerTest("runs a container", async (cli) => {
 *   await cli.run();
 * });
 * ```
 */
export function testsOf<T extends AsyncDisposable>(
  kind: EngineKind,
  make: (engine: EngineInstance) => T,
): (
  name: string,
  fn: (tool: T, engine: EngineInstance, rig: Rig) => Promise<void>,
) => void {
  return (name, fn) =>
    engineTest(kind, name, async (engine, rig) => {
      await using tool = make(engine);
      await fn(tool, engine, rig);
    });
}

/**
 * Whether two paths name the same file (device and inode): a socket found
 * through a process's root (`/proc/<pid>/root/…`, as discovery reports an
 * engine in a chroot such as the rig's sid engines) and its path here.
 */
export function sameFile(a: string, b: string): boolean {
  try {
    const x = Deno.statSync(a), y = Deno.statSync(b);
    return x.ino !== null && x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

/** A name no other test run uses: `prefix-` and 8 random hex digits. */
export function uniq(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Runs a command; returns its stdout, throws with its stderr on failure. */
export async function run(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string> } = {},
): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { PATH: `/usr/sbin:/usr/bin:/sbin:/bin`, ...options.env },
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

/** PID of the daemon serving an engine instance (0 when it is down). */
export function enginePid(engine: EngineInstance): number {
  try {
    return Number(Deno.readTextFileSync(engine.pidFile).trim()) || 0;
  } catch {
    return 0;
  }
}

/**
 * Signals the daemon serving an engine instance: TERM (default) and KILL
 * wait until it is gone (its containers live on); STOP and CONT freeze and
 * thaw it.
 */
export async function stopEngine(
  engine: EngineInstance,
  options: { signal?: "SIGKILL" | "SIGTERM" | "SIGSTOP" | "SIGCONT" } = {},
): Promise<void> {
  const signal = (options.signal ?? "SIGTERM").slice(3);
  await run("bash", [need().script, "stop-daemon", engine.daemon, signal], {
    env: { WW_RIG_DIR: need().dir },
  });
}

/** Starts the daemon serving an engine instance again; waits until it answers. */
export async function startEngine(engine: EngineInstance): Promise<void> {
  await run("bash", [need().script, "start-daemon", engine.daemon], {
    env: { WW_RIG_DIR: need().dir },
  });
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Adds a dockerd to the rig for one test (`rig.sh add-dockerd`), named
 * `dockerd-<name>-<random>`: on the rig's containerd 1.7 in a namespace of
 * its own, with its own engine ID, the test image loaded. With `tlsDir`
 * (`ca.pem`, `cert.pem`, `key.pem`) it also listens on 127.0.0.1 (a free
 * port) with `--tlsverify`. {@linkcode removeDockerd} removes it; the rig's
 * stop removes what a test left.
 */
export async function addDockerd(
  name: string,
  options: { tlsDir?: string } = {},
): Promise<EngineInstance> {
  const daemon = uniq(`dockerd-${name}`);
  const tls = options.tlsDir ? [options.tlsDir, String(freePort())] : [];
  const line = await run(
    "bash",
    [need().script, "add-dockerd", daemon, ...tls],
    { env: { WW_RIG_DIR: need().dir } },
  );
  const e = JSON.parse(line) as Omit<EngineInstance, "label">;
  return { ...e, label: label(e.kind, e.version) };
}

/** Removes a dockerd added by {@linkcode addDockerd}: its containers, the daemon, its folder. */
export async function removeDockerd(engine: EngineInstance): Promise<void> {
  await run("bash", [need().script, "remove-daemon", engine.daemon], {
    env: { WW_RIG_DIR: need().dir },
  });
}

/**
 * Resolves when `check` returns true; rejects after `timeoutMs` (default
 * 20 s), saying what it waited for (`what` is read then, so a function can
 * describe the state at the deadline).
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; what?: string | (() => string) } = {},
): Promise<void> {
  const limit = options.timeoutMs ?? 20_000;
  const deadline = performance.now() + limit;
  while (!(await check())) {
    if (performance.now() > deadline) {
      const what = typeof options.what === "function"
        ? options.what()
        : options.what ?? "a condition";
      throw new Error(`timed out after ${limit} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Resolves after `ms` milliseconds: pacing only (a churn loop's rhythm, a
 * slow subscriber), never to wait for something to happen.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
