// A real `docker compose` (v2) project against every dockerd of the rig
// whose CLI has the plugin (Debian sid's): its containers grouped by
// com.docker.compose.project, and the events of `compose down`.
import { assert, assertEquals } from "../_assert.ts";
import { watchDocker } from "../../docker.ts";
import { COMPOSE_PROJECT_LABEL } from "../../engineclient/mod.ts";
import { DockerCli } from "../engines/docker.ts";
import { engineTest, uniq } from "../engines/rig.ts";
import { EventRecorder, watchReady } from "./_recorder.ts";

const SERVICES = ["db", "web"];

// No service has a network: a project's default network would be a bridge
// on the host (even with dockerd's --bridge=none). Each has an init:
// busybox's sleep as PID 1 ignores SIGTERM, so `down` would wait 10 s a
// service.
function composeFile(image: string): string {
  return "services:\n" + SERVICES.map((name) =>
    [
      `  ${name}:`,
      `    image: ${image}`,
      "    pull_policy: never",
      "    network_mode: none",
      "    init: true",
      "",
    ].join("\n")
  ).join("");
}

engineTest(
  "docker",
  "compose: `docker compose up` makes one project of its services; `down` exits each container exactly once, project resolved",
  async (engine, rig) => {
    await using cli = DockerCli.of(engine);
    const project = uniq("ww-compose");
    const dir = `${rig.dir}/${project}`;
    await Deno.mkdir(dir);
    const file = `${dir}/compose.yaml`;
    await Deno.writeTextFile(file, composeFile(rig.image));
    const compose = (...args: string[]) =>
      cli.docker("compose", "-p", project, "-f", file, ...args);
    await using watcher = watchDocker(engine.socket);
    await using _watch = await watchReady(watcher);
    await using rec = new EventRecorder(watcher);
    try {
      await compose("up", "-d");
      const ids = (await compose("ps", "-q")).split("\n").filter(Boolean);
      assertEquals(ids.length, SERVICES.length, `compose ps: ${ids}`);
      await rec.until(
        () => ids.every((id) => rec.of([id]).length === 1),
        `the start of ${ids.join(", ")}`,
      );
      // Grouped: the project view has both services' containers.
      const group = watcher.portfolio.project(project);
      assertEquals(group?.size, SERVICES.length);
      assert(watcher.portfolio.projectNames().includes(project));
      const members = [...group!.containers()];
      assertEquals(
        members.map((c) => c.labels["com.docker.compose.service"]).sort(),
        SERVICES,
      );
      for (const c of members) {
        assert(ids.includes(c.id), `${c.id} is no container of the project`);
        assertEquals(c.project, project);
        assertEquals(c.labels[COMPOSE_PROJECT_LABEL], project);
        assertEquals(c.pid, await cli.pid(c.id));
      }
      // No network of the project: nothing on the host's network.
      const networks = await cli.docker(
        "network",
        "ls",
        "--format",
        "{{.Name}}",
      );
      assert(!networks.includes(project), `networks: ${networks}`);

      await compose("down");
      // Nothing more arrives for them: a marker's events come after theirs.
      await rec.settle(cli.marker());
      for (const id of ids) {
        assertEquals(rec.of([id]), [`started:${id}`, `exited:${id}`]);
      }
      assertEquals(
        rec.events.filter((e) => ids.includes(e.id)).map((e) => e.project),
        [project, project, project, project],
      );
      assertEquals(watcher.portfolio.project(project), undefined);
      assert(!watcher.portfolio.projectNames().includes(project));
    } finally {
      await compose("down", "-t", "0").catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
  {
    where: (e) => e.compose !== undefined,
    what: "a CLI with the `docker compose` plugin",
  },
);
