// The CLI against the rig, run as `deno task watch` runs it: with exactly
// the task's permissions.
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { main } from "../../cli/mod.ts";
import { CriTestClient } from "../engines/cri_client.ts";
import { ctr, docker, integrationTest, type Rig } from "../engines/rig.ts";
import { watchTaskPermissions } from "./_task.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The `watch` task's `deno run` flags, from deno.json, run from the repository. */
function taskPermissions(): string[] {
  return watchTaskPermissions({ INIT_CWD: ROOT, HOME: Deno.env.get("HOME") });
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
  const out = await cli(args).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

function uniq(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

async function dockerTruth(): Promise<Map<string, number>> {
  const ids = (await docker("ps", "-q", "--no-trunc")).split("\n").filter(
    Boolean,
  );
  const truth = new Map<string, number>();
  for (const id of ids) {
    truth.set(id, Number(await docker("inspect", "-f", "{{.State.Pid}}", id)));
  }
  return truth;
}

async function containerdTruth(): Promise<Map<string, number>> {
  const truth = new Map<string, number>();
  const out = await ctr("-n", "default", "tasks", "ls");
  for (const line of out.split("\n").slice(1).filter(Boolean)) {
    const [id, pid, status] = line.trim().split(/\s+/);
    if (status === "RUNNING" || status === "PAUSED") truth.set(id, Number(pid));
  }
  return truth;
}

async function startCtrTask(rig: Rig, id: string) {
  await ctr("-n", "default", "run", "-d", rig.ctrImage, id);
}

async function removeCtrTask(id: string) {
  await ctr("-n", "default", "tasks", "kill", "-s", "SIGKILL", id).catch(
    () => {},
  );
  for (let i = 0; i < 100; i++) {
    const ok = await ctr("-n", "default", "tasks", "delete", id).then(
      () => true,
      (e) => /not found/.test(String(e)),
    );
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await ctr("-n", "default", "containers", "rm", id).catch(() => {});
}

integrationTest(
  "cli: --once --json equals the engines' truth, under the watch task's permissions",
  async (rig) => {
    const project = uniq("proj");
    const ids = [
      await docker(
        "run",
        "-d",
        "--name",
        uniq("web"),
        "-l",
        `com.docker.compose.project=${project}`,
        rig.image,
      ),
      await docker("run", "-d", "--name", uniq("db"), rig.image),
    ];
    await docker("pause", ids[1]);
    const task = uniq("task");
    await startCtrTask(rig, task);
    await using cri = new CriTestClient(rig.containerdSocket, {
      logDir: `${rig.dir}/cri-logs`,
      image: rig.ctrImage,
    });
    const pod = await cri.runPod(uniq("pod"));
    try {
      const criId = await cri.runContainer(pod, "app");
      const { code, stdout, stderr } = await runCli([
        "--once",
        "--json",
        "--socket",
        rig.dockerSocket,
        "--socket",
        rig.containerdSocket,
      ]);
      assertEquals(code, 0, stderr);
      const lines = jsonLines(stdout);
      const of = (engine: string, type: string) =>
        lines.filter((l) => l.engine === engine && l.type === type);

      const docker_ = of("docker.com", "container");
      assertEquals(
        new Map(docker_.map((l) => [l.id as string, l.pid as number])),
        await dockerTruth(),
      );
      assertEquals(docker_.find((l) => l.id === ids[0])?.project, project);
      assertEquals(docker_.find((l) => l.id === ids[1])?.paused, true);
      assertEquals(of("docker.com", "ready")[0].containers, docker_.length);
      assertEquals(of("docker.com", "ready")[0].api, rig.dockerSocket);

      const ctrd = of("containerd.io", "container");
      assertEquals(
        new Map(ctrd.map((l) => [l.id as string, l.pid as number])),
        await containerdTruth(),
      );
      assertEquals(of("containerd.io", "ready").length, 1);

      const criLines = of("cri", "container");
      const running = await cri.runningContainers();
      const criContainers = criLines.filter((l) =>
        (l.labels as Record<string, string>)["whalewatcher/sandbox"] !== "true"
      );
      assertEquals(
        new Set(criContainers.map((l) => l.id)),
        new Set(running),
      );
      assertEquals(
        criLines.find((l) => l.id === criId)?.pid,
        await cri.containerPid(criId),
      );
      assert(criLines.some((l) => l.id === pod), "pod sandbox missing");
      // Nothing but JSON lines on stdout.
      for (const l of lines) assert(typeof l.type === "string");
    } finally {
      await docker("rm", "-f", ...ids);
      await removeCtrTask(task);
      await cri.removePod(pod);
    }
  },
);

integrationTest(
  "cli: a live watch prints started, paused, unpaused, exited in order; filters apply; Ctrl-C ends cleanly",
  async (rig) => {
    const project = uniq("live");
    const child = cli([
      "--json",
      "--socket",
      rig.dockerSocket,
      "--project",
      project,
    ]).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let buffer = "";
    const lines: Record<string, unknown>[] = [];
    const nextLine = async () => {
      while (!buffer.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`cli ended; had ${JSON.stringify(lines)}`);
        buffer += value;
      }
      const i = buffer.indexOf("\n");
      const line = JSON.parse(buffer.slice(0, i));
      buffer = buffer.slice(i + 1);
      lines.push(line);
      return line;
    };
    const ids: string[] = [];
    try {
      assertEquals((await nextLine()).type, "ready");
      // Outside the project: filtered out.
      ids.push(await docker("run", "-d", "--name", uniq("other"), rig.image));
      const name = uniq("member");
      const id = await docker(
        "run",
        "-d",
        "--name",
        name,
        "-l",
        `com.docker.compose.project=${project}`,
        rig.image,
      );
      ids.push(id);
      await docker("pause", id);
      await docker("unpause", id);
      await docker("stop", "-t", "1", id);
      const seen = [];
      for (let i = 0; i < 4; i++) seen.push(await nextLine());
      assertEquals(seen.map((l) => l.type), [
        "started",
        "paused",
        "unpaused",
        "exited",
      ]);
      for (const l of seen) {
        assertEquals(l.id, id);
        assertEquals(l.name, name);
        assertEquals(l.engine, "docker.com");
        assertEquals(l.project, project);
        assertMatch(l.time as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
      }
      assert((seen[0].pid as number) > 0);
    } finally {
      child.kill("SIGINT");
      const status = await child.status;
      await reader.cancel().catch(() => {});
      await child.stderr.cancel().catch(() => {});
      await docker("rm", "-f", ...ids).catch(() => {});
      assertEquals(status.code, 0);
    }
    // The other container never showed.
    assert(!lines.some((l) => l.id === ids[0]));
  },
);

integrationTest(
  "cli: --label filters, --socket to a non-engine fails naming it, bad flags",
  async (rig) => {
    const id = await docker(
      "run",
      "-d",
      "--name",
      uniq("lab"),
      "-l",
      "tier=front",
      rig.image,
    );
    try {
      const { code, stdout } = await runCli([
        "--once",
        "--json",
        "--socket",
        rig.dockerSocket,
        "--label",
        "tier=front",
      ]);
      assertEquals(code, 0);
      const containers = jsonLines(stdout).filter((l) =>
        l.type === "container"
      );
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
    } finally {
      await docker("rm", "-f", id);
    }

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
