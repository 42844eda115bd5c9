// The built-in adaptors' typed errors on endpoints that cannot work, without
// an engine: no such socket, something that is no engine, and Deno's
// permissions refusing the socket. `ready` rejects at once with the error
// naming the path, and discovery classifies the same failures by class.
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import {
  containerdAdapter,
  createWatcher,
  criAdapter,
  discoverEngines,
  dockerAdapter,
  type EngineAdapter,
  EngineNotFoundError,
  NotAnEngineError,
} from "../../mod.ts";
import { outputOf } from "../_task.ts";

const ADAPTERS: EngineAdapter[] = [
  dockerAdapter,
  containerdAdapter,
  criAdapter,
];
const ROOT = new URL("../../", import.meta.url).pathname;

/** A unix socket that answers every connection with garbage and closes. */
function garbageSocket(path: string): Disposable {
  const listener = Deno.listen({ transport: "unix", path });
  (async () => {
    for await (const conn of listener) {
      conn.write(new TextEncoder().encode("garbage\r\n\r\n"))
        .catch(() => {}).finally(() => conn.close());
    }
  })().catch(() => {});
  return { [Symbol.dispose]: () => listener.close() };
}

// Rejects with `ready`'s failure, or fails the test after `ms` (a hang).
async function readyFailure(
  adapter: EngineAdapter,
  endpoint: string,
  ms = 5000,
): Promise<unknown> {
  await using watcher = await createWatcher(adapter, endpoint);
  const watching = watcher.watch().catch((e) => e);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise((resolve) => {
    timer = setTimeout(() => resolve(`still pending after ${ms} ms`), ms);
  });
  try {
    const outcome = await Promise.race([
      watcher.ready.then(() => "ready", (e) => e),
      hang,
    ]);
    assertEquals(await watching, outcome);
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}

for (const adapter of ADAPTERS) {
  Deno.test(`${adapter.type}: no such socket rejects ready at once with EngineNotFoundError naming it`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const path = `${dir}/no-such.sock`;
      const err = await readyFailure(adapter, path);
      assert(err instanceof EngineNotFoundError, String(err));
      assertEquals(err.endpoint, path);
      assertMatch(err.message, /^no .*engine at ".*no-such\.sock"/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`${adapter.type}: a socket that is no engine rejects ready with NotAnEngineError`, async () => {
    const dir = await Deno.makeTempDir();
    const path = `${dir}/garbage.sock`;
    try {
      using _ = garbageSocket(path);
      const err = await readyFailure(adapter, path);
      assert(err instanceof NotAnEngineError, String(err));
      assertEquals(err.endpoint, path);
      assert(err.message.includes(`"${path}"`));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("discovery classifies the adaptors' failures by class", async () => {
  const dir = await Deno.makeTempDir();
  const garbage = `${dir}/garbage.sock`;
  try {
    using _ = garbageSocket(garbage);
    const found = await discoverEngines({
      endpoints: [garbage, `${dir}/missing.sock`],
      explicitOnly: true,
    });
    assertEquals(found.engines, []);
    assertEquals(found.rejected.map((r) => [r.endpoint, r.reason]), [
      [garbage, "not-an-engine"],
      [`${dir}/missing.sock`, "not-found"],
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// Runs `code` as a script with only `permissions` (`deno eval` would
// allow everything).
async function runRestricted(code: string, permissions: string[]) {
  const script = await Deno.makeTempFile({ dir: ROOT, suffix: "_test.ts" });
  try {
    await Deno.writeTextFile(script, code);
    return await outputOf(
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-check", ...permissions, script],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }),
    );
  } finally {
    await Deno.remove(script);
  }
}

Deno.test("without Deno's permissions for the socket: EnginePermissionError naming the flags, not a crash", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/engine.sock`;
  try {
    using _ = garbageSocket(path);
    const code = `
      import { createWatcher, discoverEngines } from "${ROOT}mod.ts";
      for (const type of ["docker.com", "containerd.io", "cri"]) {
        await using watcher = await createWatcher(type, "${path}");
        const err = await watcher.watch().then(() => undefined, (e) => e);
        console.log(type, err?.name, err?.endpoint, err?.deno, err?.message);
      }
      const found = await discoverEngines({ endpoints: ["${path}"], explicitOnly: true });
      console.log("discovery", found.rejected.map((r) => r.reason).join(","));
    `;
    const out = await runRestricted(code, [
      `--allow-read=${ROOT},${dir}`,
      "--allow-env",
      "--allow-sys",
    ]);
    assertEquals(out.code, 0, out.stderr);
    const lines = out.stdout.trim().split("\n");
    for (const type of ["docker.com", "containerd.io", "cri"]) {
      const line = lines.find((l) => l.startsWith(`${type} `)) ?? "";
      assert(
        line.startsWith(`${type} EnginePermissionError ${path} true `),
        line,
      );
      assertMatch(line, /--allow-write=.*--allow-net/);
    }
    assertEquals(lines.at(-1), "discovery permission-denied");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cri: id() without --allow-sys rejects, naming the runtime and the flag", async () => {
  const out = await runRestricted(
    `
      import { CriClient } from "${ROOT}cri.ts";
      await using cri = new CriClient("/run/nothing/cri.sock");
      let pending;
      try {
        pending = cri.id();
      } catch (err) {
        console.log("threw synchronously", err);
        Deno.exit(1);
      }
      const err = await pending.then(() => undefined, (e) => e);
      console.log(err?.message);
    `,
    [`--allow-read=${ROOT}`, "--allow-env"],
  );
  assertEquals(out.code, 0, out.stderr + out.stdout);
  assertMatch(out.stdout, /\/run\/nothing\/cri\.sock.*--allow-sys=hostname/);
});
