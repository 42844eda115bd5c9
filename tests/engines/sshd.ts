// A private OpenSSH server on a loopback port, as a "remote" Docker host:
// its own host key, one authorized client key, a private config (no PAM,
// no strict modes, 127.0.0.1 only) and sessions whose DOCKER_HOST is the
// given socket, so that `docker system dial-stdio` reaches that dockerd.
// Sessions get a HOME of their own: the login shell (bash, run by sshd)
// would otherwise source the machine user's ~/.bashrc, whose side effects
// (a pyenv rehash lock left by a killed session made every later session
// wait 60 s) are not the rig's. Everything lives in a folder of the rig;
// stop() ends the listener and every session process it started.
import { run, waitFor } from "./rig.ts";

/** An sshd started by {@linkcode startSshd}. */
export interface TestSshd extends AsyncDisposable {
  /** Its folder. */
  dir: string;
  /** Its port on 127.0.0.1. */
  port: number;
  /** The user to log in as. */
  user: string;
  /** `ssh://USER@127.0.0.1:PORT`. */
  url: string;
  /** The client's private key file (authorized by the server). */
  clientKey: string;
  /** A private key file the server does not authorize. */
  strangerKey: string;
  /** A known_hosts file with the server's host key. */
  knownHosts: string;
  /** A known_hosts file with another key for the same host (a "changed" key). */
  changedKnownHosts: string;
  /** The server's host key line (`[127.0.0.1]:PORT ssh-ed25519 AAAA…`). */
  hostKeyLine: string;
  /** Ends the listener and every session (the host "drops off"). */
  kill(): Promise<void>;
  /** Starts the listener again on the same port, same keys. */
  restart(): Promise<void>;
  /** kill(), then removes its folder. */
  stop(): Promise<void>;
}

const SSHD = "/usr/sbin/sshd";
// OpenSSH's privilege separation needs this folder; made (and removed)
// only when missing.
const PRIVSEP = "/run/sshd";
let privsepUsers = 0;
let privsepMade = false;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function pidFrom(file: string): number {
  try {
    return Number(Deno.readTextFileSync(file).trim()) || 0;
  } catch {
    return 0;
  }
}

/** The PIDs of `pid`'s descendants (from /proc), deepest last. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(e.name));
      children.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length) {
    for (const c of children.get(todo.shift()!) ?? []) {
      out.push(c);
      todo.push(c);
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

async function keygen(path: string): Promise<string> {
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path]);
  return (await Deno.readTextFile(`${path}.pub`)).trim();
}

/**
 * Starts sshd on 127.0.0.1 (a free port) in a new folder under `parent`,
 * whose sessions reach the Docker API at `dockerSocket`; `maxSessions: 0`
 * makes it refuse every session channel (and so `exec`) after the login.
 */
export async function startSshd(
  parent: string,
  options: { dockerSocket: string; maxSessions?: number },
): Promise<TestSshd> {
  const dir = await Deno.makeTempDir({ dir: parent, prefix: "sshd-" });
  const port = freePort();
  const user = "root";
  const hostPub = await keygen(`${dir}/host_ed25519`);
  const clientPub = await keygen(`${dir}/client_ed25519`);
  await keygen(`${dir}/stranger_ed25519`);
  const otherHostPub = await keygen(`${dir}/other_host_ed25519`);
  await Deno.writeTextFile(`${dir}/authorized_keys`, clientPub + "\n");
  await Deno.mkdir(`${dir}/home`);
  const hostName = `[127.0.0.1]:${port}`;
  const hostKeyLine = `${hostName} ${hostPub.split(" ").slice(0, 2).join(" ")}`;
  await Deno.writeTextFile(`${dir}/known_hosts`, hostKeyLine + "\n");
  await Deno.writeTextFile(
    `${dir}/known_hosts.changed`,
    `${hostName} ${otherHostPub.split(" ").slice(0, 2).join(" ")}\n`,
  );
  const config = `${dir}/sshd_config`;
  await Deno.writeTextFile(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${dir}/host_ed25519`,
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      `PidFile ${dir}/sshd.pid`,
      "UsePAM no",
      "StrictModes no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PubkeyAuthentication yes",
      "PermitRootLogin prohibit-password",
      // Socket forwarding (podman's connections) needs local forwarding.
      "AllowTcpForwarding local",
      "LogLevel VERBOSE",
      "AllowStreamLocalForwarding yes",
      "X11Forwarding no",
      "PrintMotd no",
      "Subsystem none /bin/false",
      `SetEnv DOCKER_HOST=unix://${options.dockerSocket} HOME=${dir}/home`,
      ...(options.maxSessions !== undefined
        ? [`MaxSessions ${options.maxSessions}`]
        : []),
      "",
    ].join("\n"),
  );
  if (privsepUsers++ === 0) {
    try {
      await Deno.mkdir(PRIVSEP, { mode: 0o755 });
      privsepMade = true;
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
  }
  const pidFile = `${dir}/sshd.pid`;
  const start = async () => {
    await Deno.remove(pidFile).catch(() => {});
    // sshd daemonizes itself and writes its pidfile.
    await run(SSHD, ["-f", config, "-E", `${dir}/sshd.log`]);
    await waitFor(async () => {
      if (!pidFrom(pidFile)) return false;
      try {
        const c = await Deno.connect({ hostname: "127.0.0.1", port });
        c.close();
        return true;
      } catch {
        return false;
      }
    }, { what: `sshd on 127.0.0.1:${port}` });
  };
  const kill = async () => {
    const pid = pidFrom(pidFile);
    if (!pid || !alive(pid)) return;
    // The listener first (no new sessions), then every session it forked.
    const tree = [pid, ...descendants(pid)];
    for (const p of tree) {
      try {
        Deno.kill(p, "SIGKILL");
      } catch {
        // gone
      }
    }
    await waitFor(() => tree.every((p) => !alive(p)), {
      what: `sshd ${pid} and its sessions to end`,
    });
    await Deno.remove(pidFile).catch(() => {});
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await kill();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    if (--privsepUsers === 0 && privsepMade) {
      privsepMade = false;
      await Deno.remove(PRIVSEP).catch(() => {});
    }
  };
  try {
    await start();
  } catch (err) {
    const log = await Deno.readTextFile(`${dir}/sshd.log`).catch(() => "");
    await stop();
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  return {
    dir,
    port,
    user,
    url: `ssh://${user}@127.0.0.1:${port}`,
    clientKey: `${dir}/client_ed25519`,
    strangerKey: `${dir}/stranger_ed25519`,
    knownHosts: `${dir}/known_hosts`,
    changedKnownHosts: `${dir}/known_hosts.changed`,
    hostKeyLine,
    kill,
    restart: start,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
