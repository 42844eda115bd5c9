// The live CLI on a fleet: without any engine it says so once and waits;
// an engine that appears later is announced with its snapshot; one that
// vanishes gets its `exited` lines and an engine line. The engine is the
// third-party example's toy engine, found by its own environment variable.
import { assertEquals, assertMatch } from "../_assert.ts";
import { serveToyEngine, type ToyEngine } from "../../examples/toy_engine.ts";
import { ChildLines } from "./_lines.ts";
import { runtimeDir, taskPermissions } from "../_task.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("cli live: waits for an engine, announces it when it appears, reports it gone with its exits", async () => {
  const dir = await runtimeDir();
  const socket = `${dir}/toy.sock`;
  let engine: ToyEngine | undefined;
  try {
    await using cli = new ChildLines(
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          ...taskPermissions("watch", {
            INIT_CWD: ROOT,
            HOME: Deno.env.get("HOME"),
          }),
          `${ROOT}/cli/mod.ts`,
          "--adapter",
          "examples/third_party_adapter.ts",
          "--engine",
          "toy.example",
          "--json",
        ],
        cwd: ROOT,
        env: { NO_COLOR: "1", INIT_CWD: ROOT, TOY_ENGINE_SOCKET: socket },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }),
    );
    const json = async () => JSON.parse(await cli.next());
    let note = await cli.nextErr();
    while (!/waiting for one/.test(note)) note = await cli.nextErr();
    assertMatch(note, /no container engine found/);
    engine = serveToyEngine(socket);
    engine.start({ id: "t1", name: "first", pid: 101 });
    // Announced when found: its snapshot, then its events.
    const snapshot = [await json(), await json()];
    assertEquals(snapshot.map((l) => [l.type, l.id ?? l.engine]), [
      ["container", "t1"],
      ["ready", "toy.example"],
    ]);
    engine.start({ id: "t2", name: "second", pid: 102 });
    const started = await json();
    assertEquals([started.type, started.id, started.pid], [
      "started",
      "t2",
      102,
    ]);
    // Gone: the exits of what ran, then the engine line.
    await engine.close();
    engine = undefined;
    await Deno.remove(socket).catch(() => {}); // gone with the listener
    const gone = [await json(), await json(), await json()];
    assertEquals(
      gone.map((l) => `${l.type} ${l.id ?? l.api}`),
      ["exited t1", "exited t2", `engine-removed ${socket}`],
    );
    assertEquals(await cli.interrupt(), 0);
    // The wait was told once, though the fleet kept looking.
    assertEquals(
      cli.errLines.filter((l) => /waiting for one/.test(l)).length,
      1,
    );
  } finally {
    await engine?.close();
    await Deno.remove(dir, { recursive: true });
  }
});
