// `deno task watch --adapter MODULE`: a third-party adaptor module (the
// example's) is imported, registers itself, and its engine is discovered
// through the environment variable it declares and printed like a
// built-in's — under the watch task's exact permissions.
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { serveToyEngine } from "../../examples/toy_engine.ts";
import { outputOf, runtimeDir, taskPermissions } from "../_task.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

async function runCli(args: string[], env: Record<string, string>) {
  return await outputOf(
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...taskPermissions("watch", {
          INIT_CWD: ROOT,
          HOME: Deno.env.get("HOME"),
        }),
        `${ROOT}/cli/mod.ts`,
        ...args,
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1", INIT_CWD: ROOT, ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }),
  );
}

Deno.test("cli: --adapter loads a third-party adaptor; its engine is found by its own environment variable", async () => {
  const dir = await runtimeDir();
  const socket = `${dir}/toy.sock`;
  const engine = serveToyEngine(socket);
  engine.start({ id: "t1", name: "first", pid: 101 });
  engine.start({ id: "t2", name: "second", pid: 102 });
  try {
    const { code, stdout, stderr } = await runCli([
      "--adapter",
      "examples/third_party_adapter.ts",
      "--engine",
      "toy.example",
      "--once",
      "--json",
    ], { TOY_ENGINE_SOCKET: socket });
    assertEquals(code, 0, stderr);
    const lines = stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
    assertEquals(
      lines.filter((l) => l.type === "container").map((l) => [
        l.engine,
        l.api,
        l.id,
        l.pid,
      ]).sort(),
      [
        ["toy.example", socket, "t1", 101],
        ["toy.example", socket, "t2", 102],
      ],
    );
    const ready = lines.find((l) => l.type === "ready");
    assertEquals([ready?.engine, ready?.version], ["toy.example", "1.0"]);
  } finally {
    await engine.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: an --adapter module that cannot be loaded is a usage error naming it", async () => {
  const { code, stderr } = await runCli(
    ["--adapter", "examples/no_such_adapter.ts", "--once"],
    {},
  );
  assertEquals(code, 2);
  assertMatch(
    stderr,
    /cannot load adaptor module "examples\/no_such_adapter\.ts"/,
  );
  // Without the adaptor, its type is unknown: the module is what makes it.
  const unknown = await runCli(["--engine", "toy.example", "--once"], {});
  assertEquals(unknown.code, 2);
  assert(unknown.stderr.includes(`unknown engine type "toy.example"`));
});
