// The CLI against the rig, run as `deno task watch` runs it: with exactly
// the task's permissions.
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { main } from "../../cli/mod.ts";
import { CriTestClient } from "../engines/cri_client.ts";
import { Ctr } from "../engines/containerd.ts";
import { DockerCli, primaryDocker } from "../engines/docker.ts";
import { PodmanCli } from "../engines/podman.ts";
import { ChildLines } from "./_lines.ts";
import {
  ENGINE_TYPE,
  type EngineKind,
  engineTest,
  integrationTest,
  uniq,
} from "../engines/rig.ts";
import type { Truth } from "../engines/truth.ts";
import { outputOf, taskPermissions as permissionsOf } from "../_task.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The `watch` task's `deno run` flags, from deno.json, run from the repository. */
function taskPermissions(): string[] {
  return permissionsOf("watch", {
    INIT_CWD: ROOT,
    HOME: Deno.env.get("HOME"),
  });
}

function cli(args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...taskPermissions(), `${ROOT}cli/mod.ts`, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
}

async function runCli(args: string[]) {
  return await outputOf(cli(args));
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

/** ID → PID of a truth. */
function pids(truth: Truth): Map<string, number> {
  return new Map([...truth].map(([id, t]) => [id, t.pid]));
}

for (const kind of Object.keys(ENGINE_TYPE) as EngineKind[]) {
  engineTest(
    kind,
    "cli: --once --json equals the engine's truth, under the watch task's permissions",
    async (engine) => {
      await using made = new AsyncDisposableStack();
      const type = ENGINE_TYPE[kind];
      let truth: () => Promise<Truth>;
      // What the engine's own lines must also show.
      let check = (_containers: Record<string, unknown>[]) => {};
      if (kind === "docker" || kind === "podman") {
        const cli = made.use(
          kind === "podman" ? new PodmanCli(engine) : DockerCli.of(engine),
        );
        const project = uniq("proj");
        const web = await cli.run({
          labels: { "com.docker.compose.project": project },
        });
        const db = await cli.run();
        await cli.docker("pause", db);
        truth = () => cli.truth();
        check = (containers) => {
          assertEquals(containers.find((l) => l.id === web)?.project, project);
          assertEquals(containers.find((l) => l.id === db)?.paused, true);
        };
      } else if (kind === "containerd") {
        const ctr = made.use(new Ctr(engine));
        const task = uniq("task");
        await ctr.run("default", task);
        truth = () => ctr.truth();
        check = (containers) =>
          assert(containers.some((l) => l.id === task), `${task} missing`);
      } else {
        const cri = made.use(CriTestClient.of(engine));
        const pod = await cri.runPod(uniq("pod"));
        const app = await cri.runContainer(pod, "app");
        truth = () => cri.truth();
        check = (containers) => {
          for (const id of [pod, app]) {
            assert(containers.some((l) => l.id === id), `${id} missing`);
          }
        };
      }
      const { code, stdout, stderr } = await runCli([
        "--once",
        "--json",
        "--socket",
        engine.socket,
      ]);
      assertEquals(code, 0, stderr);
      const lines = jsonLines(stdout);
      // Nothing but JSON lines on stdout.
      for (const l of lines) assert(typeof l.type === "string");
      const of = (what: string) =>
        lines.filter((l) => l.engine === type && l.type === what);
      const containers = of("container");
      assertEquals(
        new Map(containers.map((l) => [l.id as string, l.pid as number])),
        pids(await truth()),
      );
      check(containers);
      assertEquals(of("ready").length, 1);
      assertEquals(of("ready")[0].containers, containers.length);
      assertEquals(of("ready")[0].api, engine.socket);
    },
  );
}

for (const kind of ["docker", "podman"] as EngineKind[]) {
  engineTest(
    kind,
    "cli: a live watch prints started, paused, unpaused, exited in order; filters apply; Ctrl-C ends cleanly",
    async (engine) => {
      const project = uniq("live");
      await using dockerd = kind === "podman"
        ? new PodmanCli(engine)
        : DockerCli.of(engine);
      await using watch = new ChildLines(cli([
        "--json",
        "--socket",
        engine.socket,
        "--project",
        project,
      ]));
      const next = async () => JSON.parse(await watch.next());
      assertEquals((await next()).type, "ready");
      // Outside the project: filtered out.
      const other = await dockerd.run({ name: uniq("other") });
      const name = uniq("member");
      const id = await dockerd.run({
        name,
        labels: { "com.docker.compose.project": project },
      });
      // Each change after the last one showed: a change before the start's
      // inspection would show in the start itself (a container paused
      // meanwhile starts paused; one gone meanwhile never shows).
      const seen = [await next()];
      await dockerd.docker("pause", id);
      seen.push(await next());
      await dockerd.docker("unpause", id);
      seen.push(await next());
      await dockerd.docker("stop", "-t", "1", id);
      seen.push(await next());
      assertEquals(seen.map((l) => l.type), [
        "started",
        "paused",
        "unpaused",
        "exited",
      ]);
      for (const l of seen) {
        assertEquals(l.id, id);
        assertEquals(l.name, name);
        assertEquals(l.engine, ENGINE_TYPE[kind]);
        assertEquals(l.project, project);
        assertMatch(l.time as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
      }
      assert((seen[0].pid as number) > 0);
      assertEquals(await watch.interrupt(), 0);
      // The other container never showed (it started before the member).
      assert(!watch.lines.some((l) => l.includes(other)));
    },
  );
}

integrationTest(
  "cli: --label filters, --socket to a non-engine fails naming it, bad flags",
  async (rig) => {
    await using dockerd = primaryDocker();
    const id = await dockerd.run({ labels: { tier: "front" } });
    const { code, stdout } = await runCli([
      "--once",
      "--json",
      "--socket",
      rig.dockerSocket,
      "--label",
      "tier=front",
    ]);
    assertEquals(code, 0);
    const containers = jsonLines(stdout).filter((l) => l.type === "container");
    assertEquals(containers.map((l) => l.id), [id]);
    const none = await runCli([
      "--once",
      "--json",
      "--socket",
      rig.dockerSocket,
      "--label",
      "tier=back",
    ]);
    assertEquals(
      jsonLines(none.stdout).filter((l) => l.type === "container"),
      [],
    );

    // A socket where nothing speaks an engine API.
    const path = `${rig.dir}/not-an-engine.sock`;
    const listener = Deno.listen({ transport: "unix", path });
    const serving = (async () => {
      for await (const conn of listener) {
        await conn.write(new TextEncoder().encode("garbage\r\n\r\n"));
        conn.close();
      }
    })();
    try {
      const bad = await runCli(["--once", "--socket", path]);
      assert(bad.code !== 0);
      assertMatch(bad.stderr, new RegExp(path.replaceAll(".", "\\.")));
    } finally {
      listener.close();
      await serving.catch(() => {});
      await Deno.remove(path).catch(() => {});
    }

    const missing = await runCli([
      "--once",
      "--socket",
      `${rig.dir}/nope.sock`,
    ]);
    assert(missing.code !== 0);
    assertMatch(missing.stderr, /nope\.sock/);

    const lines: string[] = [];
    assertEquals(
      await main(["--bogus"], {
        out: (l) => lines.push(l),
        err: (l) => lines.push(l),
      }),
      2,
    );
    assertMatch(lines.join("\n"), /bogus.*--help/);
    assertEquals(await main(["--help"], { out: (l) => lines.push(l) }), 0);
    assertMatch(lines.join("\n"), /usage: deno task watch/);
  },
);
