// The Docker adaptor against every dockerd of the rig.
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import {
  dockerAdapter,
  DockerClient,
  type DockerOptions,
  probeDocker,
  watchDocker,
} from "../../docker.ts";
import {
  COMPOSE_PROJECT_LABEL,
  engineRegistry,
  EventStreamEndedError,
  ProcesslessContainerError,
} from "../../engineclient/mod.ts";
import {
  type EngineInstance,
  engineTest,
  type Rig,
  served,
  startEngine,
  stopEngine,
  testsOf,
  uniq,
  waitFor,
} from "../engines/rig.ts";
import { DockerCli } from "../engines/docker.ts";
import { Ctr } from "../engines/containerd.ts";
import { Gate, SocketProxy } from "../engines/proxy.ts";
import { viewOf } from "../engines/truth.ts";
import { EventRecorder, watchReady } from "./_recorder.ts";

const dockerTest = testsOf("docker", DockerCli.of);

/**
 * Settles like `promise`, or rejects naming `what` after `ms`: a hang (an
 * engine that never came back, a loss never surfaced) fails the test instead
 * of stalling the run. A safety net, not a timing assertion.
 */
async function bounded<T>(
  promise: Promise<T>,
  what: string,
  ms = 30_000,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${ms} ms: ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

engineTest("docker", "registered, probed, identified", async (engine, rig) => {
  assert(engineRegistry.get("docker.com") === dockerAdapter);
  const probed = await probeDocker(engine.socket);
  assertEquals(probed?.type, "docker.com");
  // containerd's socket speaks gRPC, not Docker's API.
  assertEquals(
    await probeDocker(served("containerd", engine.containerd!).socket),
    null,
  );
  await assertRejects(
    () => probeDocker(`${rig.dir}/missing.sock`),
    /missing\.sock/,
  );
  const client = new DockerClient(`unix://${engine.socket}`, { pid: 42 });
  try {
    assertEquals(client.api, engine.socket);
    assertEquals(client.type, "docker.com");
    assertEquals(client.pid, 42);
    assert((await client.id()).length > 0);
    assertEquals(await client.version(), engine.version);
    await assertRejects(
      () => client.inspect("no-such-container"),
      ProcesslessContainerError,
    );
  } finally {
    await client.close();
    await client.close();
  }
});

dockerTest(
  "list after ready has running and paused containers with their PIDs, no others",
  async (cli, engine) => {
    const running = uniq("run");
    const paused = uniq("paused");
    const stopped = uniq("stopped");
    const created = uniq("created");
    const id = await cli.run({ name: running, labels: { app: "web" } });
    await cli.run({ name: paused });
    await cli.run({ name: stopped });
    await cli.create({ name: created });
    await cli.docker("pause", paused);
    await cli.docker("stop", "-t", "0", stopped);
    await using watcher = watchDocker(engine.socket);
    await using _watch = await watchReady(watcher);
    const p = watcher.portfolio;
    const r = p.container(running)!;
    assert(r, "running container missing");
    assertEquals(r.id, id);
    assertEquals(r.pid, await cli.pid(id));
    assertEquals(r.labels.app, "web");
    assertEquals(r.paused, false);
    assertEquals(p.container(paused)?.paused, true);
    assertEquals(p.container(paused)?.pid, await cli.pid(paused));
    assertEquals(p.container(stopped), undefined);
    assertEquals(p.container(created), undefined);
    assertEquals(r.labels["whalewatcher/privileged"], undefined);
  },
);

dockerTest(
  "compose projects group containers and vanish with the last one",
  async (cli, engine) => {
    const project = uniq("shop");
    const labels = { [COMPOSE_PROJECT_LABEL]: project };
    const a = await cli.run({ labels });
    await using watcher = watchDocker(engine.socket);
    await using _watch = await watchReady(watcher);
    await using rec = new EventRecorder(watcher);
    const b = await cli.run({ labels });
    await rec.waitFor([b], 1);
    assertEquals(watcher.portfolio.project(project)?.size, 2);
    assert(watcher.portfolio.projectNames().includes(project));
    await cli.docker("rm", "-f", a);
    await rec.waitFor([a], 1);
    assertEquals(watcher.portfolio.project(project)?.size, 1);
    assertEquals(rec.events.find((e) => e.id === a)?.project, project);
    await cli.docker("rm", "-f", b);
    await rec.waitFor([b], 2);
    assertEquals(watcher.portfolio.project(project), undefined);
    assert(!watcher.portfolio.projectNames().includes(project));
  },
);

dockerTest(
  "start, pause, unpause, stop, kill -9 and rm -f each yield exactly their event",
  async (cli, engine) => {
    await using watcher = watchDocker(engine.socket);
    await using _watch = await watchReady(watcher);
    await using rec = new EventRecorder(watcher);
    const id = await cli.create({ name: uniq("life") });
    await cli.docker("start", id);
    await rec.waitFor([id], 1);
    assertEquals(watcher.portfolio.container(id)?.pid, await cli.pid(id));
    await cli.docker("pause", id);
    await rec.waitFor([id], 2);
    assertEquals(watcher.portfolio.container(id)?.paused, true);
    await cli.docker("unpause", id);
    await rec.waitFor([id], 3);
    assertEquals(watcher.portfolio.container(id)?.paused, false);
    await cli.docker("stop", "-t", "1", id);
    await rec.waitFor([id], 4);
    assertEquals(watcher.portfolio.container(id), undefined);
    assertEquals(rec.of([id]), [
      `started:${id}`,
      `paused:${id}`,
      `unpaused:${id}`,
      `exited:${id}`,
    ]);

    const k = await cli.run({ name: uniq("killed") });
    await rec.waitFor([k], 1);
    Deno.kill(await cli.pid(k), "SIGKILL");
    await rec.waitFor([k], 2);
    assertEquals(watcher.portfolio.container(k), undefined);

    const r = await cli.run({ name: uniq("removed") });
    await rec.waitFor([r], 1);
    await cli.docker("rm", "-f", r);
    await rec.waitFor([r], 2);
    assertEquals(watcher.portfolio.container(r), undefined);
    // Nothing more arrives for these containers: a marker's events,
    // emitted after all of theirs, come first.
    await rec.settle(cli.marker());
    assertEquals(rec.of([id]).length, 4);
    assertEquals(rec.of([k]), [`started:${k}`, `exited:${k}`]);
    assertEquals(rec.of([r]), [`started:${r}`, `exited:${r}`]);
    await rec.stop();
    assertEquals(rec.error, undefined);
  },
);

dockerTest(
  "dockerd killed and restarted mid-watch resyncs to the truth with exactly the difference",
  async (cli, engine) => {
    // While dockerd is down its containers live on in containerd.
    const below = new Ctr(served("containerd", engine.containerd!));
    const keep = await cli.run({ name: uniq("keep") });
    const gone = await cli.run({ name: uniq("gone") });
    const pausing = await cli.run({ name: uniq("pausing") });
    await using watcher = watchDocker(engine.socket, {
      backoff: { initialMs: 50, maxMs: 300 },
    });
    await using _watch = await watchReady(watcher);
    // A bare client's event stream, to see the loss surface as an error.
    const bare = new DockerClient(engine.socket);
    try {
      await using rec = new EventRecorder(watcher);
      const syncs = watcher.syncCount;
      const stream = await bare.lifecycleEvents();
      // Caught at once: the loss happens while we wait for the kill.
      const draining = (async () => {
        for await (const _ of stream) {
          // none expected before the kill
        }
      })().then(() => undefined, (err: Error) => err);
      await stopEngine(engine, { signal: "SIGKILL" });
      const lost = await bounded(draining, "loss of the event stream");
      assert(
        lost instanceof EventStreamEndedError &&
          lost.endpoint === engine.socket &&
          lost.message.includes(`"${engine.socket}"`),
        `stream loss not surfaced: ${lost}`,
      );
      // End one behind dockerd's back (containerd's PID: never 0, which
      // would signal our own process group).
      const task = (await below.tasks("moby")).get(gone);
      assert(task && task.pid > 0, `no containerd task for ${gone}`);
      Deno.kill(task.pid, "SIGKILL");
      await startEngine(engine);
      await waitFor(() => watcher.syncCount > syncs, {
        what: "resync after dockerd restart",
      });
      await rec.waitFor([gone], 1);
      // Changes after the resync arrive as ordinary events.
      await cli.docker("pause", pausing);
      const fresh = await cli.run({ name: uniq("fresh") });
      await rec.waitFor([pausing, fresh], 2);
      const mine = new Set([keep, gone, pausing, fresh]);
      const only = <V>(m: Map<string, V>) =>
        new Map([...m].filter(([id]) => mine.has(id)));
      assertEquals(
        only(viewOf(watcher.portfolio.containers())),
        only(await cli.truth()),
      );
      assertEquals(rec.of([keep]), []);
      assertEquals(rec.of([gone]), [`exited:${gone}`]);
      assertEquals(rec.of([pausing]), [`paused:${pausing}`]);
      assertEquals(rec.of([fresh]), [`started:${fresh}`]);
    } finally {
      await bare.close();
      await startEngine(engine);
    }
  },
);

dockerTest(
  "client events map actions, projects and ms timestamps; abort ends quietly",
  async (cli, engine) => {
    const client = new DockerClient(engine.socket);
    const abort = new AbortController();
    try {
      const events = await client.lifecycleEvents({ signal: abort.signal });
      const got: { type: string; id: string; project: string; ts: number }[] =
        [];
      const reading = (async () => {
        for await (const e of events) {
          got.push({
            type: e.type,
            id: e.id,
            project: e.project,
            ts: e.timestamp,
          });
        }
      })();
      const before = Date.now();
      const id = await cli.run({
        labels: { [COMPOSE_PROJECT_LABEL]: "evproj" },
      });
      await cli.docker("pause", id);
      await cli.docker("unpause", id);
      await cli.docker("kill", id);
      const mine = () => got.filter((e) => e.id === id);
      await waitFor(() => mine().length >= 4, {
        what: () => `4 events of ${id} (have ${JSON.stringify(got)})`,
      });
      assertEquals(mine().map((e) => e.type), [
        "started",
        "paused",
        "unpaused",
        "exited",
      ]);
      for (const e of mine()) {
        assertEquals(e.project, "evproj");
        // Milliseconds since the epoch (not ns, not s), in order.
        assert(e.ts >= before - 5000 && e.ts <= Date.now() + 5000, `${e.ts}`);
      }
      assert(mine().every((e, i, all) => i === 0 || e.ts >= all[i - 1].ts));
      abort.abort();
      await reading; // ends quietly, without throwing
      assertEquals(client.stats.skippedEvents, 0);
      await assertRejects(
        () => client.lifecycleEvents({ signal: abort.signal }),
      );
    } finally {
      abort.abort();
      await client.close();
    }
    // Closed clients refuse new subscriptions, naming the endpoint.
    await assertRejects(
      () => client.lifecycleEvents(),
      (err: Error) => err.message.includes(engine.socket),
    );
  },
);

const INSPECT = /^\/(v[\d.]+\/)?containers\/[0-9a-f]{12,}\/json/;

/**
 * A Docker client behind a proxy that holds container inspections at a
 * gate and counts them: in flight (sent, unanswered), most at once, in
 * total. Disposing it opens the gate and closes client and proxy.
 */
function gatedClient(
  engine: EngineInstance,
  rig: Rig,
  options: DockerOptions = {},
) {
  const gate = new Gate();
  const state = { inflight: 0, max: 0, total: 0 };
  const proxy = new SocketProxy(engine.socket, {
    path: `${rig.dir}/${uniq("gate")}.sock`,
  }, {
    onRequest(r) {
      if (!INSPECT.test(r.path)) return;
      state.total++;
      state.max = Math.max(state.max, ++state.inflight);
      return gate.passed();
    },
    onResponse(r) {
      if (INSPECT.test(r.path)) state.inflight--;
    },
  });
  const client = new DockerClient(proxy.address, options);
  return {
    gate,
    state,
    proxy,
    client,
    async [Symbol.asyncDispose]() {
      gate.open();
      await client.close();
      await proxy.close();
    },
  };
}

dockerTest(
  "client list inspects with bounded concurrency, skips containers gone meanwhile, aborts promptly",
  async (cli, engine, rig) => {
    const ids: string[] = await Promise.all(
      Array.from({ length: 9 }, () => cli.run({ name: uniq("conc") })),
    );
    const doomed = ids[0];
    await using gated = gatedClient(engine, rig, { concurrency: 3 });
    const { gate, state, client } = gated;
    const listing = client.list();
    listing.catch(() => {}); // awaited below, unless a wait fails first
    await waitFor(() => state.inflight === 3, {
      what: () => `3 inspections held at the gate (${state.inflight})`,
    });
    // A call the client makes after the list's inspections were queued:
    // any 4th inspection would have been sent before it.
    await client.version();
    assertEquals(state.inflight, 3);
    assertEquals(state.total, 3);
    // Removed between list and inspect: a 404, so skipped, not fatal.
    await cli.docker("rm", "-f", doomed);
    gate.open();
    const listed = new Set((await listing).map((c) => c.id));
    assertEquals(state.max, 3);
    assert(!listed.has(doomed), "a removed container was listed");
    for (const id of ids.slice(1)) assert(listed.has(id), `${id} missing`);

    // An abort while inspections hang rejects with the abort's reason.
    gate.shut();
    const abort = new AbortController();
    const aborted = client.list({ signal: abort.signal });
    await waitFor(() => state.inflight === 3, {
      what: () => `3 inspections held again (${state.inflight})`,
    });
    const reason = new Error("enough");
    abort.abort(reason);
    await assertRejects(() => aborted, (err) => err === reason);
  },
);

dockerTest(
  "client close() ends calls in flight and refuses new ones; the packer sees Docker's inspection",
  async (cli, engine, rig) => {
    const ids = [await cli.run(), await cli.run()];
    await using gated = gatedClient(engine, rig, {
      packer: { pack: (_c, raw) => (raw as { Image?: string }).Image },
    });
    const { gate, state, proxy, client } = gated;
    // Through the open gate first: a real inspection feeds the packer.
    gate.open();
    const c = await client.inspect(ids[0]);
    assert(
      typeof c.rucksack === "string" && c.rucksack.startsWith("sha256:"),
      `rucksack: ${c.rucksack}`,
    );
    gate.shut();
    const listing = client.list();
    const inspecting = client.inspect(ids[1]);
    await waitFor(() => state.inflight >= 3, {
      what: "list's and inspect's inspections held at the gate",
    });
    await client.close();
    const closed = (err: Error) =>
      err.message.includes("is closed") &&
      err.message.includes(proxy.address);
    await assertRejects(() => bounded(listing, "list after close"), closed);
    await assertRejects(
      () => bounded(inspecting, "inspect after close"),
      closed,
    );
    await assertRejects(() => client.list(), closed);
    await assertRejects(() => client.inspect(ids[0]), closed);
    await assertRejects(() => client.id(), closed);
  },
);

dockerTest(
  "client over tcp:// (plain HTTP): probe, list and events",
  async (cli, engine) => {
    const proxy = new SocketProxy(engine.socket, { tcp: true });
    const client = new DockerClient(proxy.address);
    const abort = new AbortController();
    try {
      assertEquals((await probeDocker(proxy.address))?.type, "docker.com");
      assertEquals(client.api, proxy.address);
      const events = await client.lifecycleEvents({ signal: abort.signal });
      const seen: string[] = [];
      const reading = (async () => {
        for await (const e of events) seen.push(`${e.type}:${e.id}`);
      })();
      const id = await cli.run({ name: uniq("tcp") });
      await waitFor(() => seen.includes(`started:${id}`), {
        what: `start of ${id} over tcp`,
      });
      const listed = await client.list();
      assertEquals(listed.find((c) => c.id === id)?.pid, await cli.pid(id));
      abort.abort();
      await reading;
    } finally {
      abort.abort();
      await client.close();
      await proxy.close();
    }
  },
);
