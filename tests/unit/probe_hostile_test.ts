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
      // As an unprivileged user (root ignores file modes).
      const script = `
        import "${new URL("../../mod.ts", import.meta.url).href}";
        import { discoverEngines } from "${
        new URL("../../watcher/discovery/mod.ts", import.meta.url).href
      }";
        const r = await discoverEngines({ endpoints: [${
        JSON.stringify(path)
      }], explicitOnly: true });
        console.log(JSON.stringify(r.rejected));
      `;
      await Deno.chmod(dir, 0o755);
      // The unprivileged user gets its own copy of the npm cache.
      const denoDir = await Deno.makeTempDir();
      const cache = Deno.env.get("DENO_DIR") ??
        `${Deno.env.get("HOME")}/.cache/deno`;
      for (
        const [cmd, ...args] of [
          ["cp", "-r", `${cache}/npm`, `${denoDir}/npm`],
          ["chown", "-R", "65534:65534", denoDir],
        ]
      ) {
        const ok = await new Deno.Command(cmd, { args }).output();
        assert(ok.success, `${cmd} failed`);
      }
      const out = await new Deno.Command("setpriv", {
        args: [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          Deno.execPath(),
          "eval",
          "--no-lock",
          "--cached-only",
          script,
        ],
        env: { DENO_DIR: denoDir, HOME: denoDir },
        cwd: new URL("../../", import.meta.url).pathname,
        stdout: "piped",
        stderr: "piped",
      }).output();
      await Deno.remove(denoDir, { recursive: true });
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
