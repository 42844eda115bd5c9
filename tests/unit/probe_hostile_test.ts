// Sockets that answer garbage, close at once or never answer: every
// built-in probe settles within the probe timeout, and discovery says why
// each candidate was rejected, naming it. Also a socket without permission.
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import "../../mod.ts";
import { discoverEngines } from "../../watcher/discovery/mod.ts";
import { engineRegistry } from "../../engineclient/mod.ts";

type Behaviour = "garbage" | "close" | "silent";

function serve(path: string, behaviour: Behaviour) {
  const listener = Deno.listen({ transport: "unix", path });
  const conns = new Set<Deno.Conn>();
  const serving = (async () => {
    for await (const conn of listener) {
      if (behaviour === "close") {
        conn.close();
      } else if (behaviour === "garbage") {
        conn.write(
          new TextEncoder().encode("\x00\xffgarbage\r\n\r\n".repeat(8)),
        )
          .catch(() => {}).finally(() => conn.close());
      } else {
        conns.add(conn); // never answers
      }
    }
  })();
  return async () => {
    listener.close();
    for (const c of conns) c.close();
    await serving.catch(() => {});
  };
}

Deno.test("probes: garbage, closing and silent sockets are rejected within the timeout, by name", async () => {
  const dir = await Deno.makeTempDir();
  const stops: (() => Promise<void>)[] = [];
  try {
    const paths: Record<Behaviour, string> = {
      garbage: `${dir}/garbage.sock`,
      close: `${dir}/close.sock`,
      silent: `${dir}/silent.sock`,
    };
    for (const [b, p] of Object.entries(paths)) {
      stops.push(serve(p, b as Behaviour));
    }
    const timeout = 700;
    const t0 = performance.now();
    const found = await discoverEngines({
      endpoints: Object.values(paths),
      explicitOnly: true,
      probeTimeoutMs: timeout,
    });
    const elapsed = performance.now() - t0;
    assertEquals(found.engines, []);
    assertEquals(found.rejected.length, 3);
    for (const r of found.rejected) {
      assert(r.message.includes(r.endpoint), r.message);
    }
    const silent = found.rejected.find((r) => r.endpoint === paths.silent)!;
    assertEquals(silent.reason, "timeout");
    // The guard of discovery bounds every probe: timeout plus its margin.
    assert(elapsed < timeout + 1500, `discovery took ${elapsed} ms`);
    // All three built-in probes took part.
    for (const type of ["docker.com", "containerd.io", "cri"]) {
      assert(engineRegistry.get(type).probe);
    }
  } finally {
    for (const stop of stops) await stop();
    await Deno.remove(dir, { recursive: true });
  }
});

const ROOT = new URL("../../", import.meta.url);

/** `deno info --json` of a module, or of Deno itself without one. */
async function denoInfo(...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", ...args],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/**
 * What an unprivileged child needs to run `entries` of this module, in a
 * world-readable folder of its own: the module's local source files they
 * load (with deno.json and deno.lock), and a DENO_DIR with a copy of the npm
 * packages when they load any. The checkout and root's Deno cache may be
 * unreadable for that user (a clone under /root).
 */
async function childCopy(dir: string, entries: string[]): Promise<void> {
  const files = new Set(["deno.json", "deno.lock"]);
  let npm = false;
  for (const entry of entries) {
    const info = await denoInfo(entry);
    for (const m of info.modules as { specifier: string }[]) {
      if (m.specifier.startsWith(ROOT.href)) {
        files.add(m.specifier.slice(ROOT.href.length));
      }
    }
    npm ||= Object.keys(info.npmPackages ?? {}).length > 0;
  }
  for (const f of files) {
    await Deno.mkdir(`${dir}/${f}`.replace(/\/[^/]*$/, ""), {
      recursive: true,
    });
    await Deno.copyFile(new URL(f, ROOT), `${dir}/${f}`);
  }
  await Deno.mkdir(`${dir}/deno`);
  if (npm) {
    const cp = await new Deno.Command("cp", {
      args: ["-r", (await denoInfo()).npmCache, `${dir}/deno/npm`],
    }).output();
    assert(cp.success, new TextDecoder().decode(cp.stderr));
  }
  // The child's DENO_DIR is its own (Deno writes its caches there).
  const own = await new Deno.Command("chown", {
    args: ["-R", "65534:65534", `${dir}/deno`],
  }).output();
  assert(own.success, "chown failed");
  await Deno.chmod(dir, 0o755);
}

Deno.test({
  name:
    "probes: a socket without permission gives a clear error naming the path",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const path = `${dir}/locked.sock`;
    const stop = serve(path, "garbage");
    try {
      await Deno.chmod(path, 0o000);
      // As an unprivileged user (root ignores file modes), from a copy of
      // what it needs.
      const entries = ["mod.ts", "watcher/discovery/mod.ts"];
      await childCopy(dir, entries);
      await Deno.writeTextFile(
        `${dir}/probe.ts`,
        `import "./mod.ts";
import { discoverEngines } from "./watcher/discovery/mod.ts";
const r = await discoverEngines({ endpoints: [Deno.args[0]], explicitOnly: true });
console.log(JSON.stringify(r.rejected));
`,
      );
      const out = await new Deno.Command("setpriv", {
        args: [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          Deno.execPath(),
          "run",
          "-A",
          "--cached-only",
          "probe.ts",
          path,
        ],
        env: { DENO_DIR: `${dir}/deno`, HOME: `${dir}/deno`, NO_COLOR: "1" },
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      assert(out.success, new TextDecoder().decode(out.stderr));
      const rejected = JSON.parse(stdout.trim().split("\n").pop()!);
      assertEquals(rejected.length, 1);
      assertEquals(rejected[0].reason, "permission-denied");
      assertMatch(rejected[0].message, /locked\.sock/);
    } finally {
      await stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
