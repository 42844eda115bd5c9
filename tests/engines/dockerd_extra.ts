// A second dockerd on the rig's containerd (its own containerd namespace,
// data and exec roots under a folder of the rig), optionally listening on
// 127.0.0.1 with --tlsverify: a "remote" Docker host for the tests. It
// keeps what the rig's dockerd has: no bridge, no iptables, live-restore.
// Stopping removes its containers first, then the daemon, then its folder.
import { type Rig, run, waitFor } from "./rig.ts";
import type { CertSet } from "./tls.ts";

/** A dockerd started by {@linkcode startExtraDockerd}. */
export interface ExtraDockerd extends AsyncDisposable {
  /** Its folder (under the rig's). */
  dir: string;
  /** Its plain unix socket. */
  socket: string;
  /** `tcp://127.0.0.1:PORT` when it listens with TLS. */
  tcpUrl?: string;
  /** The TCP port when it listens with TLS. */
  port?: number;
  /** The docker CLI against its unix socket; stdout trimmed. */
  docker(...args: string[]): Promise<string>;
  /** Its PID, 0 when down. */
  pid(): number;
  /** Stops the daemon only (containers live on: live-restore). */
  stopDaemon(signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
  /** Starts the daemon again, same flags, and waits until it answers. */
  startDaemon(): Promise<void>;
  /** Removes its containers, stops it and removes its folder. */
  stop(): Promise<void>;
}

const RUNC_FIRST = "/usr/sbin:/usr/bin:/sbin:/bin";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function alive(pid: number): boolean {
  if (!pid) return false;
  try {
    // Zombies count as gone.
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/**
 * Starts a dockerd named `name` on the rig's containerd; with `tls`, it
 * also listens on 127.0.0.1 (a free port) with `--tlsverify` and those
 * certificates.
 */
export async function startExtraDockerd(
  rig: Rig,
  options: { name: string; tls?: CertSet },
): Promise<ExtraDockerd> {
  const dir = `${rig.dir}/${options.name}`;
  await Deno.mkdir(dir, { recursive: true });
  const socket = `${dir}/docker.sock`;
  const port = options.tls ? freePort() : undefined;
  const ctrdBin = rig.ctrBin.slice(0, rig.ctrBin.lastIndexOf("/"));
  const flags = [
    "--config-file",
    `${dir}/daemon.json`,
    "--containerd",
    rig.containerdSocket,
    "--containerd-namespace",
    `ww-${options.name}`,
    "--containerd-plugins-namespace",
    `ww-${options.name}-plugins`,
    "--data-root",
    `${dir}/data`,
    "--exec-root",
    `${dir}/exec`,
    "--pidfile",
    `${dir}/dockerd.pid`,
    "-H",
    `unix://${socket}`,
    ...(options.tls
      ? [
        "-H",
        `tcp://127.0.0.1:${port}`,
        "--tlsverify",
        "--tlscacert",
        `${options.tls.dir}/ca.pem`,
        "--tlscert",
        `${options.tls.dir}/cert.pem`,
        "--tlskey",
        `${options.tls.dir}/key.pem`,
      ]
      : []),
    "--bridge=none",
    "--iptables=false",
    "--ip-masq=false",
    "--ip6tables=false",
    "--userland-proxy=false",
    "--live-restore",
    "--log-level=warn",
  ];
  // dockerd 20.10's engine ID comes from its trust key, by default the
  // machine's /etc/docker/key.json: its own key, its own ID.
  await Deno.writeTextFile(
    `${dir}/daemon.json`,
    JSON.stringify({ "deprecated-key-path": `${dir}/key.json` }),
  );
  const pidFile = `${dir}/dockerd.pid`;
  const pid = () => {
    try {
      return Number(Deno.readTextFileSync(pidFile).trim()) || 0;
    } catch {
      return 0;
    }
  };
  // A clean environment: a test's DOCKER_TLS_VERIFY must not reach the CLI.
  const docker = async (...args: string[]) => {
    const out = await new Deno.Command("docker", {
      args: ["-H", `unix://${socket}`, ...args],
      clearEnv: true,
      env: { PATH: RUNC_FIRST, HOME: dir },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(
        `docker ${args.join(" ")} on ${socket} failed: ${
          new TextDecoder().decode(out.stderr).trim()
        }`,
      );
    }
    return new TextDecoder().decode(out.stdout).trim();
  };
  const startDaemon = async () => {
    if (alive(pid())) return;
    await Deno.remove(pidFile).catch(() => {});
    const quoted = flags.map((f) => `'${f}'`).join(" ");
    await run("bash", [
      "-c",
      `PATH=${RUNC_FIRST.replace("/usr/bin", `${ctrdBin}:/usr/bin`)} ` +
      `setsid dockerd ${quoted} >>'${dir}/dockerd.log' 2>&1 </dev/null &`,
    ]);
    await waitFor(
      () =>
        docker("version", "--format", "{{.Server.Version}}").then(
          () => true,
          () => false,
        ),
      { timeoutMs: 30_000, what: `dockerd ${options.name} to answer` },
    ).catch(async (err) => {
      const log = await Deno.readTextFile(`${dir}/dockerd.log`).catch(() => "");
      throw new Error(`${err.message}\n${log.slice(-2000)}`);
    });
  };
  const stopDaemon = async (signal: "SIGTERM" | "SIGKILL" = "SIGTERM") => {
    const p = pid();
    if (!alive(p)) return;
    Deno.kill(p, signal);
    await waitFor(() => !alive(p), {
      timeoutMs: 30_000,
      what: `dockerd ${options.name} (PID ${p}) to end`,
    });
  };
  const stop = async () => {
    if (alive(pid())) {
      const ids = (await docker("ps", "-aq").catch(() => "")).split("\n")
        .filter(Boolean);
      if (ids.length) await docker("rm", "-f", ...ids).catch(() => {});
    }
    await stopDaemon();
    // Whatever dockerd left mounted under its folder.
    const mounts = (await Deno.readTextFile("/proc/mounts")).split("\n")
      .map((l) => l.split(" ")[1]).filter((m) => m?.startsWith(dir + "/"))
      .sort().reverse();
    for (const m of mounts) await run("umount", ["-l", m]).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await startDaemon();
    await docker("load", "-q", "-i", `${rig.dir}/image.tar`);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    dir,
    socket,
    ...(port ? { port, tcpUrl: `tcp://127.0.0.1:${port}` } : {}),
    docker,
    pid,
    stopDaemon,
    startDaemon,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
