// The Docker adaptor against podman's Docker-compatible API.
import { assert, assertEquals } from "../_assert.ts";
import { probeDocker, watchDocker } from "../../docker.ts";
import { integrationTest } from "../engines/rig.ts";
import { PODMAN_IMAGE, startPodman } from "../engines/podman.ts";
import { EventRecorder } from "./_recorder.ts";

function uniq(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

integrationTest(
  "podman: probed as podman.io; list after ready has running and paused containers with their PIDs, no others",
  async () => {
    await using podman = await startPodman();
    const probed = await probeDocker(podman.socket);
    assertEquals(probed?.type, "podman.io");
    const run = (name: string, ...flags: string[]) =>
      podman.docker("run", "-d", "--name", name, ...flags, PODMAN_IMAGE);
    const running = await run(
      uniq("run"),
      "-l",
      "com.docker.compose.project=pp",
    );
    const paused = await run(uniq("paused"));
    const stopped = await run(uniq("stopped"));
    const created = await podman.docker(
      "create",
      "--name",
      uniq("created"),
      PODMAN_IMAGE,
    );
    await podman.docker("pause", paused);
    await podman.docker("stop", "-t", "0", stopped);
    await using watcher = watchDocker(podman.socket, {
      engine: { type: "podman.io" },
    });
    const watching = watcher.watch();
    await watcher.ready;
    assertEquals(watcher.type, "podman.io");
    const p = watcher.portfolio;
    const pid = async (id: string) =>
      Number(await podman.docker("inspect", "-f", "{{.State.Pid}}", id));
    assertEquals(p.container(running)?.pid, await pid(running));
    assertEquals(p.container(running)?.project, "pp");
    assertEquals(p.container(paused)?.paused, true);
    assertEquals(p.container(stopped), undefined);
    assertEquals(p.container(created), undefined);
    assertEquals(p.size, 2);
    await watcher.close();
    await watching;
  },
);

integrationTest(
  "podman: start, pause, unpause, stop, kill -9 and rm -f each yield exactly their event; projects resolve",
  async () => {
    await using podman = await startPodman();
    await using watcher = watchDocker(podman.socket, {
      engine: { type: "podman.io" },
    });
    const watching = watcher.watch();
    await watcher.ready;
    const rec = new EventRecorder(watcher);
    const id = await podman.docker(
      "create",
      "--name",
      uniq("life"),
      "-l",
      "com.docker.compose.project=lifep",
      PODMAN_IMAGE,
    );
    await podman.docker("start", id);
    await rec.waitFor([id], 1);
    assertEquals(watcher.portfolio.project("lifep")?.size, 1);
    await podman.docker("pause", id);
    await rec.waitFor([id], 2);
    assertEquals(watcher.portfolio.container(id)?.paused, true);
    await podman.docker("unpause", id);
    await rec.waitFor([id], 3);
    await podman.docker("stop", "-t", "0", id);
    await rec.waitFor([id], 4);
    assertEquals(rec.of([id]), [
      `started:${id}`,
      `paused:${id}`,
      `unpaused:${id}`,
      `exited:${id}`,
    ]);
    // Exits carry the project even where podman's event lacks the label.
    assertEquals(rec.events.filter((e) => e.id === id).map((e) => e.project), [
      "lifep",
      "lifep",
      "lifep",
      "lifep",
    ]);
    assertEquals(watcher.portfolio.project("lifep"), undefined);

    const k = await podman.docker(
      "run",
      "-d",
      "--name",
      uniq("killed"),
      PODMAN_IMAGE,
    );
    await rec.waitFor([k], 1);
    const pid = Number(
      await podman.docker("inspect", "-f", "{{.State.Pid}}", k),
    );
    assert(pid > 0);
    Deno.kill(pid, "SIGKILL");
    await rec.waitFor([k], 2);
    const r = await podman.docker(
      "run",
      "-d",
      "--name",
      uniq("removed"),
      PODMAN_IMAGE,
    );
    await rec.waitFor([r], 1);
    await podman.docker("rm", "-f", r);
    await rec.waitFor([r], 2);
    await new Promise((res) => setTimeout(res, 300));
    assertEquals(rec.of([k]), [`started:${k}`, `exited:${k}`]);
    assertEquals(rec.of([r]), [`started:${r}`, `exited:${r}`]);
    assertEquals(watcher.portfolio.size, 0);
    await rec.stop();
    await watcher.close();
    await watching;
  },
);

integrationTest(
  "podman: the API service killed and restarted mid-watch, with containers changed while it was down: exactly the difference",
  async () => {
    await using podman = await startPodman();
    const keep = await podman.docker(
      "run",
      "-d",
      "--name",
      uniq("keep"),
      PODMAN_IMAGE,
    );
    const gone = await podman.docker(
      "run",
      "-d",
      "--name",
      uniq("gone"),
      PODMAN_IMAGE,
    );
    await using watcher = watchDocker(podman.socket, {
      engine: { type: "podman.io" },
      backoff: { initialMs: 50, maxMs: 300 },
    });
    const watching = watcher.watch();
    await watcher.ready;
    const rec = new EventRecorder(watcher);
    const syncs = watcher.syncCount;
    await podman.stopService("SIGKILL");
    // podman needs no daemon: change containers while the API is down.
    await podman.podman("rm", "-f", "-t", "0", gone);
    const fresh = await podman.podman(
      "run",
      "-d",
      "--name",
      uniq("fresh"),
      PODMAN_IMAGE,
    );
    await podman.startService();
    await rec.waitFor([gone, fresh], 2);
    assert(watcher.syncCount > syncs);
    assertEquals(rec.of([gone]), [`exited:${gone}`]);
    assertEquals(rec.of([fresh]), [`started:${fresh}`]);
    assertEquals(rec.of([keep]), []);
    const truth = (await podman.docker("ps", "-q", "--no-trunc")).split("\n")
      .filter(Boolean).sort();
    assertEquals(watcher.portfolio.containers().map((c) => c.id).sort(), truth);
    await rec.stop();
    await watcher.close();
    await watching;
  },
);
