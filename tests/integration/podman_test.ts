// The Docker adaptor against every podman service of the rig (podman's
// Docker-compatible API).
import { assert, assertEquals } from "../_assert.ts";
import { probeDocker, watchDocker } from "../../docker.ts";
import { startEngine, stopEngine, testsOf, uniq } from "../engines/rig.ts";
import { PodmanCli } from "../engines/podman.ts";
import { differences, viewOf } from "../engines/truth.ts";
import { EventRecorder, watchReady } from "./_recorder.ts";

const podmanTest = testsOf("podman", (e) => new PodmanCli(e));

const PODMAN = { engine: { type: "podman.io" } };

podmanTest(
  "probed as podman.io; list after ready has running and paused containers with their PIDs, no others",
  async (podman, engine) => {
    const probed = await probeDocker(engine.socket);
    assertEquals(probed?.type, "podman.io");
    const running = await podman.run({
      labels: { "com.docker.compose.project": "pp" },
    });
    const paused = await podman.run();
    const stopped = await podman.run();
    const created = await podman.create();
    await podman.docker("pause", paused);
    await podman.docker("stop", "-t", "0", stopped);
    await using watcher = watchDocker(engine.socket, PODMAN);
    await using _watch = await watchReady(watcher);
    assertEquals(watcher.type, "podman.io");
    const p = watcher.portfolio;
    assertEquals(p.container(running)?.pid, await podman.pid(running));
    assertEquals(p.container(running)?.project, "pp");
    assertEquals(p.container(paused)?.paused, true);
    assertEquals(p.container(stopped), undefined);
    assertEquals(p.container(created), undefined);
    assertEquals(differences(viewOf(p.containers()), await podman.truth()), []);
  },
);

podmanTest(
  "start, pause, unpause, stop, kill -9 and rm -f each yield exactly their event; projects resolve",
  async (podman, engine) => {
    await using watcher = watchDocker(engine.socket, PODMAN);
    await using _watch = await watchReady(watcher);
    await using rec = new EventRecorder(watcher);
    const project = uniq("lifep");
    const id = await podman.create({
      labels: { "com.docker.compose.project": project },
    });
    await podman.docker("start", id);
    await rec.waitFor([id], 1);
    assertEquals(watcher.portfolio.project(project)?.size, 1);
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
    assertEquals(
      rec.events.filter((e) => e.id === id).map((e) => e.project),
      [project, project, project, project],
    );
    assertEquals(watcher.portfolio.project(project), undefined);

    const k = await podman.run({ name: uniq("killed") });
    await rec.waitFor([k], 1);
    const pid = await podman.pid(k);
    assert(pid > 0);
    Deno.kill(pid, "SIGKILL");
    await rec.waitFor([k], 2);
    const r = await podman.run({ name: uniq("removed") });
    await rec.waitFor([r], 1);
    await podman.docker("rm", "-f", r);
    await rec.waitFor([r], 2);
    // Nothing more arrives for these containers: a marker's events,
    // emitted after all of theirs, come first.
    await rec.settle(podman.marker());
    assertEquals(rec.of([id]).length, 4);
    assertEquals(rec.of([k]), [`started:${k}`, `exited:${k}`]);
    assertEquals(rec.of([r]), [`started:${r}`, `exited:${r}`]);
    for (const x of [id, k, r]) {
      assertEquals(watcher.portfolio.container(x), undefined);
    }
    // podman's other actions (create, init, cleanup, remove; podman 5's
    // sync) never reach the adaptor: the engine filters them out.
    assert(watcher.engine.stats!.events > 0);
    assertEquals(watcher.engine.stats!.skippedEvents, 0);
  },
);

podmanTest(
  "the API service killed and restarted mid-watch, with containers changed while it was down: exactly the difference",
  async (podman, engine, rig) => {
    const keep = await podman.run({ name: uniq("keep") });
    const gone = await podman.run({ name: uniq("gone") });
    await using watcher = watchDocker(engine.socket, {
      ...PODMAN,
      backoff: { initialMs: 50, maxMs: 300 },
    });
    await using _watch = await watchReady(watcher);
    await using rec = new EventRecorder(watcher);
    const syncs = watcher.syncCount;
    try {
      await stopEngine(engine, { signal: "SIGKILL" });
      // podman needs no daemon: change containers while the API is down.
      await podman.podman("rm", "-f", "-t", "0", gone);
      const fresh = await podman.podman(
        "run",
        "-d",
        "--name",
        uniq("fresh"),
        rig.image,
      );
      await startEngine(engine);
      await rec.waitFor([gone, fresh], 2);
      assert(watcher.syncCount > syncs);
      await rec.settle(podman.marker());
      assertEquals(rec.of([gone]), [`exited:${gone}`]);
      assertEquals(rec.of([fresh]), [`started:${fresh}`]);
      assertEquals(rec.of([keep]), []);
      assertEquals(
        differences(
          viewOf(watcher.portfolio.containers()),
          await podman.truth(),
        ),
        [],
      );
    } finally {
      await startEngine(engine);
    }
  },
);
