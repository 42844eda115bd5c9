// Every example runs against the rig (smoke tests of what users copy).
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { docker, integrationTest } from "../engines/rig.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

function example(name: string, args: string[]): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}examples/${name}`, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

async function runExample(name: string, args: string[]) {
  const out = await example(name, args).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  return stdout;
}

function uniq(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

integrationTest(
  "examples: list_once lists the rig's containers by project",
  async (rig) => {
    const name = uniq("ex-list");
    const id = await docker(
      "run",
      "-d",
      "--name",
      name,
      "-l",
      "com.docker.compose.project=exproj",
      rig.image,
    );
    try {
      const out = await runExample("list_once.ts", [
        "docker.com",
        rig.dockerSocket,
      ]);
      assertMatch(out, /project exproj/);
      const pid = await docker("inspect", "-f", "{{.State.Pid}}", id);
      assertMatch(out, new RegExp(`${name} pid=${pid}`));
    } finally {
      await docker("rm", "-f", id);
    }
  },
);

integrationTest(
  "examples: stream_events and several_engines print a container's start",
  async (rig) => {
    const name = uniq("ex-stream");
    const ids: string[] = [];
    const stream = example("stream_events.ts", [
      "docker.com",
      rig.dockerSocket,
      "4",
    ]).spawn();
    const fleet = example("several_engines.ts", [
      "4",
      rig.dockerSocket,
      rig.containerdSocket,
    ]).spawn();
    try {
      // Give both time to subscribe before the container starts.
      await new Promise((r) => setTimeout(r, 1500));
      ids.push(await docker("run", "-d", "--name", name, rig.image));
      const [s, f] = await Promise.all([stream.output(), fleet.output()]);
      const streamOut = new TextDecoder().decode(s.stdout);
      const fleetOut = new TextDecoder().decode(f.stdout);
      assertEquals(s.code, 0, new TextDecoder().decode(s.stderr));
      assertEquals(f.code, 0, new TextDecoder().decode(f.stderr));
      assertMatch(streamOut, new RegExp(`started ${name} pid=\\d+`));
      assertMatch(fleetOut, /engine docker\.com at/);
      assertMatch(fleetOut, /engine containerd\.io at/);
      assertMatch(fleetOut, /engine cri at/);
      assertMatch(fleetOut, new RegExp(`docker\\.com started ${name}`));
    } finally {
      await docker("rm", "-f", ...ids).catch(() => {});
    }
  },
);

integrationTest(
  "examples: third_party_adapter is discovered and watched like a built-in",
  async () => {
    const out = await runExample("third_party_adapter.ts", []);
    assertMatch(out, /discovered toy\.example 1\.0 at /);
    assertMatch(out, /containers: first pid=101/);
    assert(out.includes("started second pid=102"));
    assert(out.includes("exited first pid=101"));
  },
);
