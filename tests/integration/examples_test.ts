// Every example runs against the rig (smoke tests of what users copy).
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { primaryDocker } from "../engines/docker.ts";
import { ChildLines } from "./_lines.ts";
import { integrationTest, uniq } from "../engines/rig.ts";

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

integrationTest(
  "examples: list_once lists the rig's containers by project",
  async (rig) => {
    await using dockerd = primaryDocker();
    const name = uniq("ex-list");
    const id = await dockerd.run({
      name,
      labels: { "com.docker.compose.project": "exproj" },
    });
    const out = await runExample("list_once.ts", [
      "docker.com",
      rig.dockerSocket,
    ]);
    assertMatch(out, /project exproj/);
    assertMatch(out, new RegExp(`${name} pid=${await dockerd.pid(id)}`));
  },
);

integrationTest(
  "examples: stream_events and several_engines print a container's start",
  async (rig) => {
    await using dockerd = primaryDocker();
    const name = uniq("ex-stream");
    // No time limit: both run until Ctrl-C.
    await using stream = new ChildLines(
      example("stream_events.ts", ["docker.com", rig.dockerSocket]),
    );
    await using fleet = new ChildLines(
      example("several_engines.ts", [
        "0",
        rig.dockerSocket,
        rig.containerdSocket,
      ]),
    );
    // Each prints its first lines after subscribing, in the same step.
    await stream.until(/^watching \d+ containers/);
    await fleet.until(/^engine docker\.com at/);
    await dockerd.run({ name });
    await stream.until(new RegExp(`started ${name} pid=\\d+`));
    await fleet.until(new RegExp(`docker\\.com started ${name}`));
    assertEquals(await stream.interrupt(), 0);
    assertEquals(await fleet.interrupt(), 0);
    const fleetOut = fleet.lines.join("\n");
    assertMatch(fleetOut, /engine containerd\.io at/);
    assertMatch(fleetOut, /engine cri at/);
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
