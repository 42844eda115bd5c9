// Discovery on a fake procfs tree and with fake adaptors: the
// /proc/net/unix parser, the process scan, dedup of linked paths, probing.
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import {
  isApiSocketPath,
  parseNetUnix,
  scanEngineProcesses,
} from "../../watcher/discovery/_procfs.ts";
import {
  discoverEngines,
  engineCandidates,
  NoEngineFoundError,
} from "../../watcher/discovery/mod.ts";
import {
  EnginePermissionError,
  EngineRegistry,
} from "../../engineclient/mod.ts";

const NET_UNIX = `Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 1001 /run/eng/api.sock
0000000000000000: 00000002 00000000 00010000 0001 01 1002 /run/eng/api.sock.ttrpc
0000000000000000: 00000003 00000000 00000000 0001 03 1003 /run/eng/api.sock
0000000000000000: 00000002 00000000 00010000 0001 01 1004 @abstract
0000000000000000: 00000002 00000000 00010000 0001 01 1005
0000000000000000: 00000002 00000000 00010000 0001 01 1006 /run/other/with space.sock
garbage line
0000000000000000: 00000002 00000000 00010000 0001 01 1007 /run/containerd/s/abcdef
`;

Deno.test("procfs: /proc/net/unix parser keeps listening path sockets only", () => {
  assertEquals(parseNetUnix(NET_UNIX), [
    { inode: 1001, path: "/run/eng/api.sock" },
    { inode: 1002, path: "/run/eng/api.sock.ttrpc" },
    { inode: 1006, path: "/run/other/with space.sock" },
    { inode: 1007, path: "/run/containerd/s/abcdef" },
  ]);
  assertEquals(parseNetUnix(""), []);
});

Deno.test("procfs: API socket paths skip ttrpc, debug, shim and libnetwork sockets", () => {
  assert(isApiSocketPath("/run/containerd/containerd.sock"));
  assert(isApiSocketPath("/run/docker.sock"));
  // Third-party engines name their sockets freely.
  assert(isApiSocketPath("/run/toy/api"));
  assert(!isApiSocketPath("/var/run/docker/containerd/containerd-debug.sock"));
  assert(!isApiSocketPath("/run/containerd/containerd.sock.ttrpc"));
  assert(!isApiSocketPath("/run/containerd/debug.sock"));
  assert(!isApiSocketPath("/run/containerd/s/0123abcd"));
  assert(!isApiSocketPath("/var/run/docker/libnetwork/1234.sock"));
  assert(!isApiSocketPath("/run/docker/metrics.sock"));
});

/** A fake procfs: processes with comm, fd links to sockets, net/unix, root. */
async function fakeProc(
  dir: string,
  processes: {
    pid: number;
    comm: string;
    inodes: number[];
    netUnix: string;
    root?: string;
  }[],
) {
  const proc = `${dir}/proc`;
  await Deno.mkdir(`${proc}/self`, { recursive: true });
  await Deno.symlink("/", `${proc}/self/root`);
  for (const p of processes) {
    const base = `${proc}/${p.pid}`;
    await Deno.mkdir(`${base}/fd`, { recursive: true });
    await Deno.mkdir(`${base}/net`, { recursive: true });
    await Deno.writeTextFile(`${base}/comm`, p.comm + "\n");
    await Deno.writeTextFile(`${base}/net/unix`, p.netUnix);
    await Deno.symlink(p.root ?? "/", `${base}/root`);
    let fd = 3;
    for (const inode of p.inodes) {
      await Deno.symlink(`socket:[${inode}]`, `${base}/fd/${fd++}`);
    }
    await Deno.symlink("/dev/null", `${base}/fd/0`);
  }
  return proc;
}

Deno.test("procfs: the scan finds engine processes and their listening API sockets, through the root of containerized ones", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const containerRoot = `${dir}/ctr-root`;
    await Deno.mkdir(containerRoot);
    const proc = await fakeProc(dir, [
      {
        pid: 10,
        comm: "containerd",
        inodes: [1001, 1002, 1003],
        netUnix: NET_UNIX,
      },
      { pid: 11, comm: "bash", inodes: [1001], netUnix: NET_UNIX },
      {
        pid: 12,
        comm: "dockerd",
        inodes: [2001],
        netUnix:
          "h\n0: 00000002 00000000 00010000 0001 01 2001 /var/run/docker.sock\n",
        root: containerRoot,
      },
    ]);
    const found = await scanEngineProcesses(
      new Set(["containerd", "dockerd"]),
      {
        procRoot: proc,
      },
    );
    found.sort((a, b) => a.pid - b.pid);
    assertEquals(found, [
      { pid: 10, name: "containerd", sockets: ["/run/eng/api.sock"] },
      {
        pid: 12,
        name: "dockerd",
        sockets: [`${proc}/12/root/var/run/docker.sock`],
      },
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("discovery: linked paths are one socket; explicit first; the process scan adds the PID", async () => {
  const dir = await Deno.makeTempDir();
  const listener = Deno.listen({ transport: "unix", path: `${dir}/real.sock` });
  try {
    await Deno.symlink(dir, `${dir}/link`);
    const real = `${dir}/real.sock`;
    const proc = await fakeProc(dir, []);
    // The process scan sees the socket under its real path.
    const inode = (await Deno.stat(real)).ino!;
    await Deno.mkdir(`${proc}/77/fd`, { recursive: true });
    await Deno.mkdir(`${proc}/77/net`, { recursive: true });
    await Deno.writeTextFile(`${proc}/77/comm`, "myengine\n");
    await Deno.symlink(`socket:[${inode}]`, `${proc}/77/fd/3`);
    await Deno.symlink("/", `${proc}/77/root`);
    await Deno.writeTextFile(
      `${proc}/77/net/unix`,
      `h\n0: 00000002 00000000 00010000 0001 01 ${inode} ${real}\n`,
    );
    const registry = new EngineRegistry();
    registry.register({
      type: "example.org",
      create: () => {
        throw new Error("not used");
      },
      socketPaths: [`${dir}/link/real.sock`],
      processNames: ["myengine"],
    });
    const env = (name: string) =>
      name === "DOCKER_HOST" ? `unix://${dir}/link/real.sock` : undefined;
    const candidates = await engineCandidates({
      endpoints: [`${dir}/link/./real.sock`],
      registry,
      procRoot: proc,
      env,
    });
    assertEquals(candidates, [
      {
        endpoint: `${dir}/link/./real.sock`,
        source: "explicit",
        pid: 77,
        types: [],
      },
    ]);
    // Explicit only: nothing else is even looked at.
    assertEquals(
      await engineCandidates({
        endpoints: [`${dir}/nothing.sock`],
        explicitOnly: true,
        registry,
        procRoot: proc,
        env,
      }),
      [{
        endpoint: `${dir}/nothing.sock`,
        source: "explicit",
        pid: 0,
        types: [],
      }],
    );
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Listening unix sockets at `names` under `dir`; returns their closer. */
function listenAll(dir: string, names: string[]): () => void {
  const listeners = names.map((n) =>
    Deno.listen({ transport: "unix", path: `${dir}/${n}` })
  );
  return () => listeners.forEach((l) => l.close());
}

function classifyingRegistry(): EngineRegistry {
  const registry = new EngineRegistry();
  const create = () => {
    throw new Error("not used");
  };
  registry.register({
    type: "a.example",
    create,
    probe: (ep) =>
      Promise.resolve(
        /(both|a-only)\.sock$/.test(ep) ? { version: "1" } : null,
      ),
  });
  registry.register({
    type: "b.example",
    create,
    probe: (ep) => {
      if (ep.endsWith("denied.sock")) {
        return Promise.reject(new EnginePermissionError(ep));
      }
      if (ep.endsWith("slow.sock")) return new Promise(() => {});
      return Promise.resolve(
        ep.endsWith("both.sock") ? { type: "b.alias" } : null,
      );
    },
  });
  return registry;
}

Deno.test("discovery: probes classify candidates; one socket may serve two types", async () => {
  const dir = await Deno.makeTempDir();
  const close = listenAll(dir, [
    "both.sock",
    "none.sock",
    "denied.sock",
    "slow.sock",
  ]);
  try {
    await Deno.writeTextFile(`${dir}/file.sock`, "");
    const found = await discoverEngines({
      endpoints: [
        "both.sock",
        "none.sock",
        "denied.sock",
        "slow.sock",
        "missing.sock",
        "file.sock",
      ].map((n) => `${dir}/${n}`),
      explicitOnly: true,
      registry: classifyingRegistry(),
      probeTimeoutMs: 50,
    });
    assertEquals(
      found.engines.map((e) => [e.type, e.adapter, e.endpoint, e.version]),
      [
        ["a.example", "a.example", `${dir}/both.sock`, "1"],
        ["b.alias", "b.example", `${dir}/both.sock`, undefined],
      ],
    );
    assertEquals(
      found.rejected.map((r) => [r.endpoint, r.reason]),
      [
        [`${dir}/none.sock`, "not-an-engine"],
        [`${dir}/denied.sock`, "permission-denied"],
        [`${dir}/slow.sock`, "timeout"],
        [`${dir}/missing.sock`, "not-found"],
        [`${dir}/file.sock`, "not-an-engine"],
      ],
    );
    for (const r of found.rejected) assert(r.message.includes(r.endpoint));
    assertMatch(found.rejected[0].message, /a\.example, b\.example/);
    assertMatch(found.rejected[1].message, /docker/); // the group to join
    assertMatch(found.rejected[4].message, /not a socket/);
  } finally {
    close();
    await Deno.remove(dir, { recursive: true });
  }
});

async function rejection(p: Promise<unknown>): Promise<NoEngineFoundError> {
  try {
    await p;
  } catch (err) {
    assert(err instanceof NoEngineFoundError, String(err));
    return err;
  }
  throw new Error("discovery did not reject");
}

Deno.test("discovery: required discovery without an engine lists every candidate tried and why", async () => {
  const dir = await Deno.makeTempDir();
  const close = listenAll(dir, ["none.sock"]);
  try {
    const err = await rejection(
      discoverEngines({
        endpoints: [`${dir}/none.sock`, `${dir}/missing.sock`],
        explicitOnly: true,
        registry: classifyingRegistry(),
        required: true,
      }),
    );
    assertEquals(err.rejected.map((r) => r.reason), [
      "not-an-engine",
      "not-found",
    ]);
    assertMatch(err.message, /^no container engine found/);
    assert(err.message.includes(`${dir}/none.sock (explicit): not-an-engine`));
    assert(err.message.includes(`${dir}/missing.sock (explicit): not-found`));
  } finally {
    close();
  }
  // Nothing to try at all says so.
  const none = await rejection(
    discoverEngines({
      explicitOnly: true,
      registry: new EngineRegistry(),
      required: true,
    }),
  );
  assertMatch(none.message, /no candidate endpoint/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("discovery: types restrict the probing adaptors and their candidates", async () => {
  const dir = await Deno.makeTempDir();
  const close = listenAll(dir, ["both.sock", "a-only.sock"]);
  try {
    const registry = classifyingRegistry();
    const proc = await fakeProc(dir, []);
    const found = await discoverEngines({
      endpoints: [`${dir}/both.sock`],
      registry,
      types: ["b.example"],
      procRoot: proc,
      env: () => undefined,
    });
    assertEquals(found.engines.map((e) => e.adapter), ["b.example"]);
    // A reported type that is no registry type ("b.alias", reported by
    // b.example) filters what every adaptor found; a socket serving only
    // other types is rejected as excluded, naming what it serves.
    const alias = await discoverEngines({
      endpoints: [`${dir}/both.sock`, `${dir}/a-only.sock`],
      explicitOnly: true,
      registry,
      types: ["b.alias"],
    });
    assertEquals(
      alias.engines.map((e) => [e.type, e.adapter]),
      [["b.alias", "b.example"]],
    );
    assertEquals(
      alias.rejected.map((r) => [r.endpoint, r.reason, r.message]),
      [[
        `${dir}/a-only.sock`,
        "excluded",
        `"${dir}/a-only.sock" serves a.example, not the asked b.alias`,
      ]],
    );
    // Built-in well-known paths belong to built-in types: none of them is
    // a candidate when only third-party types are asked for.
    assertEquals(
      (await engineCandidates({
        registry,
        types: ["b.example"],
        procRoot: proc,
        env: () => "/run/docker.sock",
      })).length,
      0,
    );
  } finally {
    close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("discovery: a candidate is probed by the adaptors its hints name and their siblings first, others only when they fail", async () => {
  const dir = await Deno.makeTempDir();
  const close = listenAll(dir, ["a.sock", "other.sock", "third.sock"]);
  try {
    const probed: string[] = [];
    const registry = new EngineRegistry();
    const create = () => {
      throw new Error("not used");
    };
    const probe = (type: string, answers: RegExp) => (ep: string) => {
      probed.push(`${type} ${ep.slice(dir.length + 1)}`);
      return Promise.resolve(answers.test(ep) ? { version: "1" } : null);
    };
    registry.register({
      type: "a.example",
      create,
      probe: probe("a.example", /a\.sock$/),
      socketPaths: [`${dir}/a.sock`],
      processNames: ["engined"],
    });
    // Shares a process name with a.example: the same engine may serve both.
    registry.register({
      type: "b.example",
      create,
      probe: probe("b.example", /a\.sock$/),
      processNames: ["engined"],
    });
    registry.register({
      type: "c.example",
      create,
      probe: probe("c.example", /other\.sock$/),
      envVars: ["C_ENDPOINT"],
    });
    const discover = (cEndpoint: string) => {
      probed.length = 0;
      return discoverEngines({
        registry,
        procRoot: `${dir}/no-proc`,
        env: (name) =>
          name === "C_ENDPOINT" ? `${dir}/${cEndpoint}` : undefined,
      });
    };
    const on = (name: string) =>
      probed.filter((p) => p.endsWith(` ${name}`)).map((p) => p.split(" ")[0]);

    // a.sock: named by a.example's path; b.example is its sibling; c.example
    // is not asked, since they recognize it.
    const found = await discover("other.sock");
    assertEquals(found.engines.map((e) => [e.adapter, e.endpoint]).sort(), [
      ["a.example", `${dir}/a.sock`],
      ["b.example", `${dir}/a.sock`],
      ["c.example", `${dir}/other.sock`],
    ]);
    assertEquals(on("a.sock").sort(), ["a.example", "b.example"]);
    // other.sock is c.example's (its variable): a and b are not asked.
    assertEquals(on("other.sock"), ["c.example"]);
    // third.sock, named by c.example's variable, is not c's: then the others
    // are asked too.
    await discover("third.sock");
    assertEquals(on("third.sock"), ["c.example", "a.example", "b.example"]);
  } finally {
    close();
    await Deno.remove(dir, { recursive: true });
  }
});
