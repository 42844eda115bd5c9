// The /proc scan of discovery: engine processes and the unix sockets they
// listen on. The procfs root is a parameter so tests use a fake tree.

/** One listening unix socket of `/proc/<pid>/net/unix`. */
export interface UnixSocketEntry {
  inode: number;
  path: string;
}

// __SO_ACCEPTCON: the socket is listening.
const SO_ACCEPTCON = 0x10000;

/**
 * Parses `/proc/<pid>/net/unix`; returns the listening sockets that have a
 * file system path (abstract and unnamed ones are left out).
 */
export function parseNetUnix(text: string): UnixSocketEntry[] {
  const entries: UnixSocketEntry[] = [];
  const lines = text.split("\n");
  for (let i = 1; i < lines.length; i++) {
    // Num RefCount Protocol Flags Type St Inode [Path]
    const fields = lines[i].trim().split(/\s+/);
    if (fields.length < 8) continue;
    const flags = parseInt(fields[3], 16);
    const inode = Number(fields[6]);
    const path = fields.slice(7).join(" ");
    if (!Number.isFinite(flags) || !(flags & SO_ACCEPTCON)) continue;
    if (!Number.isSafeInteger(inode) || inode <= 0) continue;
    if (!path.startsWith("/")) continue; // "@abstract" or garbage
    entries.push({ inode, path });
  }
  return entries;
}

/**
 * Whether a socket path looks like an engine's API rather than a side
 * channel. Any name is accepted (third-party engines name theirs freely)
 * except the known side channels.
 */
export function isApiSocketPath(path: string): boolean {
  const base = path.slice(path.lastIndexOf("/") + 1);
  if (!base) return false;
  if (base.endsWith(".ttrpc") || base.includes("debug")) return false;
  if (base.includes("metrics") || base.includes("shim")) return false;
  // containerd's shim sockets live in /run/containerd/s/<hash>; dockerd's
  // network plugin sockets under libnetwork/.
  return !/\/containerd\/s\/|\/libnetwork\//.test(path);
}

/** An engine process and the API sockets it listens on. */
export interface EngineProcess {
  pid: number;
  name: string;
  /** Socket paths as seen from this process (through `/proc/<pid>/root` when needed). */
  sockets: string[];
}

/** A file's identity (device and inode), following links. */
export async function identity(path: string): Promise<string | undefined> {
  try {
    const info = await Deno.stat(path);
    return info.ino ? `${info.dev}:${info.ino}` : undefined;
  } catch {
    return undefined;
  }
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

/**
 * Scans `procRoot` for processes named in `names` and the unix sockets they
 * listen on. Paths of processes in another mount namespace are reached
 * through `<procRoot>/<pid>/root`.
 */
export async function scanEngineProcesses(
  names: ReadonlySet<string>,
  options: { procRoot?: string } = {},
): Promise<EngineProcess[]> {
  const procRoot = options.procRoot ?? "/proc";
  // Roots compared by identity: readlink says "/" in every namespace.
  const ownRoot = await identity(`${procRoot}/self/root`) ??
    await identity("/");
  const found: EngineProcess[] = [];
  // Deno guards /proc: without --allow-all this throws NotCapable, which
  // the caller reports; other failures mean no procfs.
  try {
    for await (const entry of Deno.readDir(procRoot)) {
      if (!/^\d+$/.test(entry.name)) continue;
      const pid = Number(entry.name);
      const base = `${procRoot}/${pid}`;
      const name = (await readText(`${base}/comm`))?.trim();
      if (!name || !names.has(name)) continue;
      const inodes = new Set<number>();
      try {
        for await (const fd of Deno.readDir(`${base}/fd`)) {
          try {
            const link = await Deno.readLink(`${base}/fd/${fd.name}`);
            const m = /^socket:\[(\d+)\]$/.exec(link);
            if (m) inodes.add(Number(m[1]));
          } catch {
            // fd closed meanwhile
          }
        }
      } catch {
        continue; // not ours to read (permissions) or gone
      }
      const table = await readText(`${base}/net/unix`);
      if (!table) continue;
      const root = await identity(`${base}/root`);
      const sameRoot = root === undefined || root === ownRoot;
      const sockets: string[] = [];
      for (const { inode, path } of parseNetUnix(table)) {
        if (!inodes.has(inode) || !isApiSocketPath(path)) continue;
        const reachable = sameRoot ? path : `${base}/root${path}`;
        if (!sockets.includes(reachable)) sockets.push(reachable);
      }
      found.push({ pid, name, sockets });
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotCapable) throw err;
  }
  return found;
}
