// The Docker adaptor against the rig's real dockerd.
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import {
  dockerAdapter,
  DockerClient,
  probeDocker,
  watchDocker,
} from "../../adapters/docker/mod.ts";
import {
  COMPOSE_PROJECT_LABEL,
  engineRegistry,
  ProcesslessContainerError,
} from "../../engineclient/mod.ts";
import {
  ctr,
  docker,
  dockerdPid,
  integrationTest,
  type Rig,
  startEngine,
  stopEngine,
  waitFor,
} from "../engines/rig.ts";
import { EventRecorder } from "./_recorder.ts";

function uniq(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

async function run(rig: Rig, name: string, ...flags: string[]) {
  return await docker("run", "-d", "--name", name, ...flags, rig.image);
}

async function pidOf(id: string): Promise<number> {
  return Number(await docker("inspect", "-f", "{{.State.Pid}}", id));
}

/** The engine's truth: running and paused containers, ID → paused. */
async function truth(): Promise<Map<string, boolean>> {
  const out = await docker(
    "ps",
    "-q",
    "--no-trunc",
    "--filter",
    "status=running",
    "--filter",
    "status=paused",
    "--format",
    "{{.ID}} {{.State}}",
  );
  const map = new Map<string, boolean>();
  for (const line of out.split("\n").filter(Boolean)) {
    const [id, state] = line.split(" ");
    map.set(id, state === "paused");
  }
  return map;
}

// The PID from containerd (namespace moby), which answers while dockerd is down.
async function pidOfTask(_rig: Rig, id: string): Promise<number> {
  const tasks = await ctr("-n", "moby", "tasks", "ls");
  const row = tasks.split("\n").find((line) => line.startsWith(id));
  return Number(row?.split(/\s+/)[1] ?? 0);
}

async function removeAll(ids: string[]) {
  if (ids.length) await docker("rm", "-f", ...ids).catch(() => {});
}

integrationTest("docker: registered, probed, identified", async (rig) => {
  assert(engineRegistry.get("docker.com") === dockerAdapter);
  const probed = await probeDocker(rig.dockerSocket);
  assertEquals(probed?.type, "docker.com");
  // containerd's socket speaks gRPC, not Docker's API.
  assertEquals(await probeDocker(rig.containerdSocket), null);
  await assertRejects(
    () => probeDocker(`${rig.dir}/missing.sock`),
    /missing\.sock/,
  );
  const client = new DockerClient(`unix://${rig.dockerSocket}`, { pid: 42 });
  try {
    assertEquals(client.api, rig.dockerSocket);
    assertEquals(client.type, "docker.com");
    assertEquals(client.pid, 42);
    assert((await client.id()).length > 0);
    assertEquals(await client.version(), "20.10.24+dfsg1");
    await assertRejects(
      () => client.inspect("no-such-container"),
      ProcesslessContainerError,
    );
  } finally {
    await client.close();
    await client.close();
  }
});

integrationTest(
  "docker: list after ready has running and paused containers with their PIDs, no others",
  async (rig) => {
    const running = uniq("run");
    const paused = uniq("paused");
    const stopped = uniq("stopped");
    const created = uniq("created");
    const ids = [
      await run(rig, running, "-l", "app=web"),
      await run(rig, paused),
      await run(rig, stopped),
      await docker("create", "--name", created, rig.image),
    ];
    try {
      await docker("pause", paused);
      await docker("stop", "-t", "0", stopped);
      await using watcher = watchDocker(rig.dockerSocket);
      const watching = watcher.watch();
      await watcher.ready;
      const p = watcher.portfolio;
      const r = p.container(running)!;
      assert(r, "running container missing");
      assertEquals(r.id, ids[0]);
      assertEquals(r.pid, await pidOf(ids[0]));
      assertEquals(r.labels.app, "web");
      assertEquals(r.paused, false);
      assertEquals(p.container(paused)?.paused, true);
      assertEquals(p.container(paused)?.pid, await pidOf(ids[1]));
      assertEquals(p.container(stopped), undefined);
      assertEquals(p.container(created), undefined);
      assertEquals(r.labels["whalewatcher/privileged"], undefined);
      await watcher.close();
      await watching;
    } finally {
      await removeAll(ids);
    }
  },
);

integrationTest(
  "docker: compose projects group containers and vanish with the last one",
  async (rig) => {
    const project = uniq("shop");
    const a = await run(
      rig,
      uniq("a"),
      "-l",
      `${COMPOSE_PROJECT_LABEL}=${project}`,
    );
    const ids = [a];
    try {
      await using watcher = watchDocker(rig.dockerSocket);
      const watching = watcher.watch();
      await watcher.ready;
      const rec = new EventRecorder(watcher);
      const b = await run(
        rig,
        uniq("b"),
        "-l",
        `${COMPOSE_PROJECT_LABEL}=${project}`,
      );
      ids.push(b);
      await rec.waitFor([b], 1);
      assertEquals(watcher.portfolio.project(project)?.size, 2);
      assert(watcher.portfolio.projectNames().includes(project));
      await docker("rm", "-f", a);
      await rec.waitFor([a], 1);
      assertEquals(watcher.portfolio.project(project)?.size, 1);
      assertEquals(rec.events.find((e) => e.id === a)?.project, project);
      await docker("rm", "-f", b);
      await rec.waitFor([b], 2);
      assertEquals(watcher.portfolio.project(project), undefined);
      assert(!watcher.portfolio.projectNames().includes(project));
      await rec.stop();
      await watcher.close();
      await watching;
    } finally {
      await removeAll(ids);
    }
  },
);

integrationTest(
  "docker: start, pause, unpause, stop, kill -9 and rm -f each yield exactly their event",
  async (rig) => {
    await using watcher = watchDocker(rig.dockerSocket);
    const watching = watcher.watch();
    await watcher.ready;
    const rec = new EventRecorder(watcher);
    const name = uniq("life");
    const id = await docker("create", "--name", name, rig.image);
    const killed = uniq("killed");
    const removed = uniq("removed");
    const ids = [id];
    try {
      await docker("start", id);
      await rec.waitFor([id], 1);
      assertEquals(watcher.portfolio.container(id)?.pid, await pidOf(id));
      await docker("pause", id);
      await rec.waitFor([id], 2);
      assertEquals(watcher.portfolio.container(id)?.paused, true);
      await docker("unpause", id);
      await rec.waitFor([id], 3);
      assertEquals(watcher.portfolio.container(id)?.paused, false);
      await docker("stop", "-t", "1", id);
      await rec.waitFor([id], 4);
      assertEquals(watcher.portfolio.container(id), undefined);
      assertEquals(rec.of([id]), [
        `started:${id}`,
        `paused:${id}`,
        `unpaused:${id}`,
        `exited:${id}`,
      ]);

      const k = await run(rig, killed);
      ids.push(k);
      await rec.waitFor([k], 1);
      Deno.kill(await pidOf(k), "SIGKILL");
      await rec.waitFor([k], 2);
      assertEquals(rec.of([k]), [`started:${k}`, `exited:${k}`]);
      assertEquals(watcher.portfolio.container(k), undefined);

      const r = await run(rig, removed);
      ids.push(r);
      await rec.waitFor([r], 1);
      await docker("rm", "-f", r);
      await rec.waitFor([r], 2);
      assertEquals(rec.of([r]), [`started:${r}`, `exited:${r}`]);
      assertEquals(watcher.portfolio.container(r), undefined);
      // Nothing more arrives for these containers.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assertEquals(rec.of([id, k, r]).length, 8);
      await rec.stop();
      assertEquals(rec.error, undefined);
    } finally {
      await removeAll(ids);
      await watcher.close();
      await watching;
    }
  },
);

integrationTest(
  "docker: dockerd killed and restarted mid-watch resyncs to the truth with exactly the difference",
  async (rig) => {
    const keep = await run(rig, uniq("keep"));
    const gone = await run(rig, uniq("gone"));
    const pausing = await run(rig, uniq("pausing"));
    const ids = [keep, gone, pausing];
    await using watcher = watchDocker(rig.dockerSocket, {
      backoff: { initialMs: 50, maxMs: 300 },
    });
    const watching = watcher.watch();
    try {
      await watcher.ready;
      const rec = new EventRecorder(watcher);
      const syncs = watcher.syncCount;
      await stopEngine("dockerd", { signal: "SIGKILL" });
      // While dockerd is down its containers live on in containerd: end one
      // behind its back.
      Deno.kill(await pidOfTask(rig, gone), "SIGKILL");
      await startEngine("dockerd");
      await waitFor(() => watcher.syncCount > syncs, {
        what: "resync after dockerd restart",
      });
      await rec.waitFor([gone], 1);
      // Changes after the resync arrive as ordinary events.
      await docker("pause", pausing);
      const fresh = await run(rig, uniq("fresh"));
      ids.push(fresh);
      await rec.waitFor([pausing, fresh], 2);
      const t = await truth();
      const mine = new Set(ids);
      const seen = new Map(
        watcher.portfolio.containers().filter((c) => mine.has(c.id)).map((
          c,
        ) => [c.id, c.paused]),
      );
      const expected = new Map([...t].filter(([id]) => mine.has(id)));
      assertEquals(seen, expected);
      assertEquals(rec.of([keep]), []);
      assertEquals(rec.of([gone]), [`exited:${gone}`]);
      assertEquals(rec.of([pausing]), [`paused:${pausing}`]);
      assertEquals(rec.of([fresh]), [`started:${fresh}`]);
      assertEquals(watcher.portfolio.container(keep)?.pid, await pidOf(keep));
      await rec.stop();
    } finally {
      await startEngine("dockerd");
      await removeAll(ids);
      await watcher.close();
      await watching;
      assert(dockerdPid() > 0);
    }
  },
);
