// The Docker adaptor against the rig's real dockerd.
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import {
  dockerAdapter,
  DockerClient,
  probeDocker,
  watchDocker,
} from "../../docker.ts";
import {
  COMPOSE_PROJECT_LABEL,
  engineRegistry,
  ProcesslessContainerError,
} from "../../engineclient/mod.ts";
import { docker, integrationTest, waitFor } from "../engines/rig.ts";
import { EventRecorder } from "./_recorder.ts";
import {
  bounded,
  lifecycleCase,
  pidOf,
  removeAll,
  restartResyncCase,
  run,
  uniq,
} from "./_docker_cases.ts";

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
  (rig) =>
    lifecycleCase(rig, { endpoint: rig.dockerSocket, api: rig.dockerSocket }),
);
integrationTest(
  "docker: dockerd killed and restarted mid-watch resyncs to the truth with exactly the difference",
  (rig) =>
    restartResyncCase(rig, {
      endpoint: rig.dockerSocket,
      api: rig.dockerSocket,
    }),
);
integrationTest(
  "docker client: events map actions, projects and ms timestamps; abort ends quietly",
  async (rig) => {
    const client = new DockerClient(rig.dockerSocket);
    const abort = new AbortController();
    const ids: string[] = [];
    try {
      const events = await client.lifecycleEvents({ signal: abort.signal });
      const seen: string[] = [];
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
          seen.push(`${e.type}:${e.id}`);
        }
      })();
      const before = Date.now();
      const id = await run(
        rig,
        uniq("ev"),
        "-l",
        `${COMPOSE_PROJECT_LABEL}=evproj`,
      );
      ids.push(id);
      await docker("pause", id);
      await docker("unpause", id);
      await docker("kill", id);
      await waitFor(() => seen.filter((s) => s.endsWith(id)).length >= 4, {
        what: `4 events of ${id} (have ${seen.join(" ")})`,
      });
      const mine = got.filter((e) => e.id === id);
      assertEquals(mine.map((e) => e.type), [
        "started",
        "paused",
        "unpaused",
        "exited",
      ]);
      for (const e of mine) {
        assertEquals(e.project, "evproj");
        // Milliseconds since the epoch (not ns, not s), in order.
        assert(e.ts >= before - 5000 && e.ts <= Date.now() + 5000, `${e.ts}`);
      }
      assert(mine.every((e, i) => i === 0 || e.ts >= mine[i - 1].ts));
      abort.abort();
      await reading; // ends quietly, without throwing
      assertEquals(client.stats.skippedEvents, 0);
      await assertRejects(
        () => client.lifecycleEvents({ signal: abort.signal }),
      );
    } finally {
      abort.abort();
      await client.close();
      await removeAll(ids);
    }
    // Closed clients refuse new subscriptions, naming the endpoint.
    await assertRejects(
      () => client.lifecycleEvents(),
      (err: Error) => err.message.includes(rig.dockerSocket),
    );
  },
);

/**
 * A unix socket proxy to dockerd that holds container inspections while
 * closed and counts how many are in flight at once.
 */
function inspectGate(path: string, target: string) {
  const listener = Deno.listen({ transport: "unix", path });
  const conns = new Set<Deno.Conn>();
  let opened: () => void = () => {};
  let gate = new Promise<void>((resolve) => (opened = resolve));
  const state = { inflight: 0, max: 0, total: 0 };
  const INSPECT = /^GET \/(v[\d.]+\/)?containers\/[0-9a-f]{12,}\/json/;
  const serve = async (client: Deno.Conn) => {
    const server = await Deno.connect({ transport: "unix", path: target });
    conns.add(client);
    conns.add(server);
    const pending = { inspect: false };
    const close = () => {
      for (const c of [client, server]) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
    };
    const up = (async () => {
      const buf = new Uint8Array(64 * 1024);
      try {
        while (true) {
          const n = await client.read(buf);
          if (n === null) break;
          const chunk = buf.slice(0, n);
          if (INSPECT.test(new TextDecoder().decode(chunk.subarray(0, 200)))) {
            pending.inspect = true;
            state.total++;
            state.max = Math.max(state.max, ++state.inflight);
            await gate;
          }
          await server.write(chunk);
        }
      } catch {
        // closed
      } finally {
        close();
      }
    })();
    const down = (async () => {
      const buf = new Uint8Array(64 * 1024);
      try {
        while (true) {
          const n = await server.read(buf);
          if (n === null) break;
          if (pending.inspect) {
            pending.inspect = false;
            state.inflight--;
          }
          await client.write(buf.subarray(0, n));
        }
      } catch {
        // closed
      } finally {
        close();
      }
    })();
    await Promise.all([up, down]);
    conns.delete(client);
    conns.delete(server);
  };
  const serving = (async () => {
    const served: Promise<void>[] = [];
    try {
      for await (const client of listener) served.push(serve(client));
    } catch {
      // listener closed
    }
    await Promise.all(served);
  })();
  return {
    state,
    open() {
      opened();
    },
    shut() {
      gate = new Promise<void>((resolve) => (opened = resolve));
    },
    async close() {
      opened();
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
      await serving;
    },
  };
}

integrationTest(
  "docker client: list inspects with bounded concurrency, skips containers gone meanwhile, aborts promptly",
  async (rig) => {
    const ids: string[] = await Promise.all(
      Array.from({ length: 9 }, () => run(rig, uniq("conc"))),
    );
    const doomed = ids[0];
    const path = `${rig.dir}/gate-${crypto.randomUUID().slice(0, 6)}.sock`;
    const proxy = inspectGate(path, rig.dockerSocket);
    const client = new DockerClient(path, { concurrency: 3 });
    try {
      const listing = client.list();
      await waitFor(() => proxy.state.inflight === 3, {
        what: "3 inspections held at the gate",
      });
      // Held long enough for a 4th to show up if the bound did not hold.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assertEquals(proxy.state.inflight, 3);
      // Removed between list and inspect: a 404, so skipped, not fatal.
      await docker("rm", "-f", doomed);
      proxy.open();
      const listed = new Set((await listing).map((c) => c.id));
      assertEquals(proxy.state.max, 3);
      assert(!listed.has(doomed), "a removed container was listed");
      for (const id of ids.slice(1)) assert(listed.has(id), `${id} missing`);

      // An abort while inspections hang rejects with the abort's reason.
      proxy.shut();
      const abort = new AbortController();
      const aborted = client.list({ signal: abort.signal });
      await waitFor(() => proxy.state.inflight === 3, {
        what: "3 inspections held again",
      });
      const reason = new Error("enough");
      abort.abort(reason);
      await assertRejects(() => aborted, (err) => err === reason);
      proxy.open();
    } finally {
      await client.close();
      await proxy.close();
      await Deno.remove(path).catch(() => {});
      await removeAll(ids);
    }
  },
);

integrationTest(
  "docker client: close() ends calls in flight and refuses new ones; the packer sees Docker's inspection",
  async (rig) => {
    const ids = [await run(rig, uniq("close")), await run(rig, uniq("close"))];
    const path = `${rig.dir}/gate-${crypto.randomUUID().slice(0, 6)}.sock`;
    const proxy = inspectGate(path, rig.dockerSocket);
    const client = new DockerClient(path, {
      packer: { pack: (_c, raw) => (raw as { Image?: string }).Image },
    });
    try {
      // Through the open gate first: a real inspection feeds the packer.
      proxy.open();
      const c = await client.inspect(ids[0]);
      assert(
        typeof c.rucksack === "string" && c.rucksack.startsWith("sha256:"),
        `rucksack: ${c.rucksack}`,
      );
      proxy.shut();
      const listing = client.list();
      const inspecting = client.inspect(ids[1]);
      await waitFor(() => proxy.state.inflight >= 3, {
        what: "list's and inspect's inspections held at the gate",
      });
      await client.close();
      const closed = (err: Error) =>
        err.message.includes("is closed") && err.message.includes(path);
      await assertRejects(() => bounded(listing, "list after close"), closed);
      await assertRejects(
        () => bounded(inspecting, "inspect after close"),
        closed,
      );
      await assertRejects(() => client.list(), closed);
      await assertRejects(() => client.inspect(ids[0]), closed);
      await assertRejects(() => client.id(), closed);
    } finally {
      await client.close();
      await proxy.close();
      await Deno.remove(path).catch(() => {});
      await removeAll(ids);
    }
  },
);

/** A loopback TCP port forwarded to a unix socket (plain bytes both ways). */
function tcpToUnix(target: string) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    try {
      await from.readable.pipeTo(to.writable, { preventClose: true });
    } catch {
      // reset by either side
    }
    for (const c of [from, to]) {
      try {
        c.close();
      } catch {
        // already closed
      }
      conns.delete(c);
    }
  };
  const serving = (async () => {
    const pipes: Promise<void>[] = [];
    try {
      for await (const client of listener) {
        const server = await Deno.connect({ transport: "unix", path: target });
        conns.add(client);
        conns.add(server);
        pipes.push(pipe(client, server), pipe(server, client));
      }
    } catch {
      // listener closed
    }
    await Promise.allSettled(pipes);
  })();
  return {
    url: `tcp://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
      await serving;
    },
  };
}

integrationTest(
  "docker client over tcp:// (plain HTTP): probe, list and events",
  async (rig) => {
    const proxy = tcpToUnix(rig.dockerSocket);
    const client = new DockerClient(proxy.url);
    const abort = new AbortController();
    const ids: string[] = [];
    try {
      assertEquals((await probeDocker(proxy.url))?.type, "docker.com");
      assertEquals(client.api, proxy.url);
      const events = await client.lifecycleEvents({ signal: abort.signal });
      const seen: string[] = [];
      const reading = (async () => {
        for await (const e of events) seen.push(`${e.type}:${e.id}`);
      })();
      const id = await run(rig, uniq("tcp"));
      ids.push(id);
      await waitFor(() => seen.includes(`started:${id}`), {
        what: `start of ${id} over tcp`,
      });
      const listed = await client.list();
      assertEquals(listed.find((c) => c.id === id)?.pid, await pidOf(id));
      abort.abort();
      await reading;
    } finally {
      abort.abort();
      await client.close();
      await proxy.close();
      await removeAll(ids);
    }
  },
);
