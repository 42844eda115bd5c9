// The agent (serve/) against the rig's dockerd, in-process: every route,
// the filters, SSE ordering and resume, the security defaults and the
// health and engine events of an engine that stops and comes back.
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
} from "../_assert.ts";
import { Fleet } from "../../mod.ts";
import { type Agent, main, startAgent } from "../../serve/mod.ts";
import {
  integrationTest,
  primary,
  type Rig,
  startEngine,
  stopEngine,
  waitFor,
} from "../engines/rig.ts";
import { docker } from "../engines/docker.ts";
import { SseClient, type SseClient as Sse } from "../serve/_sse_client.ts";
import { request, targetOf } from "../serve/_raw_http.ts";

const TOKEN = "t0ken-for-the-serve-tests-0123456789";

function uniq(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

function dockerFleet(rig: Rig): Fleet {
  return new Fleet({
    endpoints: [rig.dockerSocket],
    explicitOnly: true,
    rediscoverIntervalMs: 200,
    probeTimeoutMs: 2000,
    watcher: { backoff: { initialMs: 50, maxMs: 300 } },
  });
}

async function getJson(
  agent: Agent,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; res: Response }> {
  const res = await fetch(new URL(path, agent.url), { headers });
  return { status: res.status, body: await res.json(), res };
}

interface ContainerJson {
  id: string;
  name: string;
  pid: number;
  project: string;
  paused: boolean;
  labels: Record<string, string>;
}
interface EngineJson {
  type: string;
  api: string;
  version: string;
  pid: number;
  id: string;
  state: string;
  containers: ContainerJson[];
}

async function engines(agent: Agent, query = ""): Promise<EngineJson[]> {
  const { status, body } = await getJson(agent, `containers${query}`);
  assertEquals(status, 200, JSON.stringify(body));
  return body.engines as EngineJson[];
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

async function run(
  rig: Rig,
  name: string,
  labels: Record<string, string> = {},
): Promise<string> {
  return await docker(
    "run",
    "-d",
    "--name",
    name,
    ...Object.entries(labels).flatMap(([k, v]) => ["-l", `${k}=${v}`]),
    rig.image,
  );
}

const PROJECT_LABEL = "com.docker.compose.project";

integrationTest(
  "serve: /containers equals dockerd's truth; engine, project and label filters; /events streams a container's life with increasing ids",
  async (rig) => {
    await using fleet = dockerFleet(rig);
    await using agent = await startAgent({ fleet, listen: "127.0.0.1:0" });
    await fleet.ready;
    const project = uniq("shop");
    const ids: string[] = [];
    const clients: Sse[] = [];
    try {
      ids.push(
        await run(rig, uniq("web"), {
          [PROJECT_LABEL]: project,
          tier: "front",
        }),
      );
      ids.push(await run(rig, uniq("db")));
      await docker("pause", ids[1]);
      await waitFor(async () => {
        const all = (await engines(agent))[0]?.containers ?? [];
        return all.some((c) => c.id === ids[1] && c.paused) &&
          all.some((c) => c.id === ids[0]);
      }, { what: "both containers in /containers" });

      const [engine, ...others] = await engines(agent);
      assertEquals(others, []);
      assertEquals(engine.type, "docker.com");
      assertEquals(engine.api, rig.dockerSocket);
      assertEquals(engine.state, "ready");
      assert(engine.version !== "", "engine version missing");
      assert(engine.id !== "", "engine id missing");
      assertEquals(
        new Map(engine.containers.map((c) => [c.id, c.pid])),
        await dockerTruth(),
      );
      const web = engine.containers.find((c) => c.id === ids[0])!;
      assertEquals(web.project, project);
      assertEquals(web.labels.tier, "front");
      assertEquals(web.paused, false);
      assertEquals(
        engine.containers.find((c) => c.id === ids[1])?.paused,
        true,
      );
      const { body } = await getJson(agent, "containers");
      assertMatch(body.lastEventId as string, /^\d+$/);

      const idsOf = async (query: string) =>
        (await engines(agent, query)).flatMap((e) =>
          e.containers.map((c) => c.id)
        );
      assertEquals(await idsOf(`?project=${project}`), [ids[0]]);
      assert(!(await idsOf("?project=")).includes(ids[0]));
      assert((await idsOf("?project=")).includes(ids[1]));
      assertEquals(await idsOf("?label=tier=front"), [ids[0]]);
      assertEquals(await idsOf("?label=tier"), [ids[0]]);
      assertEquals(await idsOf(`?label=tier&project=${project}`), [ids[0]]);
      assertEquals(await idsOf("?label=tier=back"), []);
      assertEquals((await engines(agent, "?engine=docker.com")).length, 1);
      assertEquals(
        (await engines(
          agent,
          `?engine=${encodeURIComponent(rig.dockerSocket)}`,
        ))
          .length,
        1,
      );
      assertEquals(await engines(agent, "?engine=containerd.io"), []);

      // The stream: one client filtered to a new project, one unfiltered.
      const live = uniq("live");
      const filtered = await SseClient.connect(agent.url, {
        query: `project=${live}`,
      });
      const all = await SseClient.connect(agent.url);
      clients.push(filtered, all);
      for (const c of [filtered, all]) {
        assertEquals(c.status, 200);
        await c.waitFor((e) => e.length >= 1, "the snapshot");
        assertEquals(c.events[0].event, "snapshot");
        assertEquals(c.events[0].json.resumed, false);
        assertEquals(c.events[0].json.reason, "new");
        assertEquals(c.events[0].json.lastEventId, c.events[0].id);
      }
      assertEquals(
        (filtered.events[0].json.engines as EngineJson[])[0].containers,
        [],
      );
      const name = uniq("member");
      const id = await run(rig, name, { [PROJECT_LABEL]: live });
      ids.push(id);
      await docker("pause", id);
      await docker("unpause", id);
      await docker("stop", "-t", "1", id);
      for (const c of [filtered, all]) {
        await c.waitFor(
          (e) => e.filter((x) => x.json.id === id).length >= 4,
          "four events of the container",
        );
      }
      const seen = filtered.changes();
      assertEquals(seen.map((e) => e.event), [
        "started",
        "paused",
        "unpaused",
        "exited",
      ]);
      // Same events, same IDs, for both clients; IDs increase.
      assertEquals(
        all.changes().filter((e) => e.json.id === id),
        seen,
      );
      let previous = BigInt(filtered.events[0].id);
      for (const e of seen) {
        assert(BigInt(e.id) > previous, `ids not increasing: ${e.id}`);
        previous = BigInt(e.id);
        assertEquals(e.json.type, e.event);
        assertEquals(e.json.name, name);
        assertEquals(e.json.project, live);
        assertEquals(e.json.paused, e.event === "paused");
        assertMatch(e.json.time as string, /^\d{4}-\d\d-\d\dT/);
        const ref = e.json.engine as Record<string, unknown>;
        assertEquals([ref.type, ref.api], ["docker.com", rig.dockerSocket]);
        assert((e.json.pid as number) > 0);
      }
      // Unfiltered IDs are consecutive: one per event.
      const allIds = all.events.map((e) => BigInt(e.id));
      for (let i = 1; i < allIds.length; i++) {
        assertEquals(allIds[i], allIds[i - 1] + 1n);
      }
    } finally {
      for (const c of clients) await c.close();
      await docker("rm", "-f", ...ids).catch(() => {});
    }
  },
);

integrationTest(
  "serve: a client that reconnects with Last-Event-ID gets exactly the events it missed; past the buffer, a snapshot marked resumed:false",
  async (rig) => {
    await using fleet = dockerFleet(rig);
    await using agent = await startAgent({
      fleet,
      listen: "127.0.0.1:0",
      bufferSize: 1000,
    });
    await fleet.ready;
    const ids: string[] = [];
    const clients: Sse[] = [];
    try {
      // The reference client stays connected throughout.
      const ref = await SseClient.connect(agent.url);
      const away = await SseClient.connect(agent.url);
      clients.push(ref, away);
      const x = await run(rig, uniq("x"));
      ids.push(x);
      for (const c of [ref, away]) {
        await c.waitFor(
          (e) => e.some((m) => m.event === "started" && m.json.id === x),
          "x started",
        );
      }
      const last = away.lastEventId;
      await away.close();

      // What happens while it is away.
      const y = await run(rig, uniq("y"));
      ids.push(y);
      await docker("pause", y);
      await docker("stop", "-t", "1", x);
      await docker("unpause", y);
      await docker("stop", "-t", "1", y);
      await ref.waitFor(
        (e) => e.some((m) => m.event === "exited" && m.json.id === y),
        "y exited",
      );
      const marker = BigInt(ref.lastEventId);
      const missed = ref.events.filter((e) =>
        BigInt(e.id) > BigInt(last) && BigInt(e.id) <= marker
      );
      assertEquals(
        missed.filter((e) => e.json.id === y || e.json.id === x).map((e) =>
          e.event
        ),
        ["started", "paused", "exited", "unpaused", "exited"],
      );

      const back = await SseClient.connect(agent.url, { lastEventId: last });
      clients.push(back);
      assertEquals(back.status, 200);
      await back.waitFor(
        (e) => e.some((m) => BigInt(m.id) >= marker),
        "the replay up to the marker",
      );
      // No snapshot, no gap, no duplicate: exactly the missed events.
      assertEquals(
        back.events.filter((e) => BigInt(e.id) <= marker),
        missed,
      );
      const replayIds = back.events.map((e) => BigInt(e.id));
      assertEquals(replayIds[0], BigInt(last) + 1n);
      for (let i = 1; i < replayIds.length; i++) {
        assertEquals(replayIds[i], replayIds[i - 1] + 1n);
      }
      // And it goes on live, in step with the reference.
      const z = await run(rig, uniq("z"));
      ids.push(z);
      for (const c of [ref, back]) {
        await c.waitFor(
          (e) => e.some((m) => m.event === "started" && m.json.id === z),
          "z started",
        );
      }
      const zRef = ref.events.find((e) => e.json.id === z)!;
      const zBack = back.events.find((e) => e.json.id === z)!;
      assertEquals(zBack, zRef);

      // Up to date already: nothing replayed, nothing doubled.
      const current = await SseClient.connect(agent.url, {
        lastEventId: ref.lastEventId,
      });
      clients.push(current);
      await docker("stop", "-t", "1", z);
      await current.waitFor(
        (e) => e.some((m) => m.event === "exited" && m.json.id === z),
        "z exited",
      );
      assertEquals(current.events.map((e) => e.event), ["exited"]);
    } finally {
      for (const c of clients) await c.close();
      await docker("rm", "-f", ...ids).catch(() => {});
    }

    // A small buffer: a client away for longer gets a fresh snapshot.
    await using small = await startAgent({
      fleet,
      listen: "127.0.0.1:0",
      bufferSize: 2,
    });
    const ids2: string[] = [];
    const clients2: Sse[] = [];
    try {
      const ref = await SseClient.connect(small.url);
      const away = await SseClient.connect(small.url);
      clients2.push(ref, away);
      await away.waitFor((e) => e.length === 1, "the snapshot");
      const last = away.lastEventId;
      await away.close();
      for (let i = 0; i < 3; i++) ids2.push(await run(rig, uniq("many")));
      await ref.waitFor(
        (e) => e.filter((m) => m.event === "started").length === 3,
        "three starts",
      );
      const back = await SseClient.connect(small.url, { lastEventId: last });
      clients2.push(back);
      await back.waitFor((e) => e.length >= 1, "a snapshot");
      const snap = back.events[0];
      assertEquals(snap.event, "snapshot");
      assertEquals(snap.json.resumed, false);
      assertEquals(snap.json.reason, "expired");
      assertEquals(snap.id, ref.lastEventId);
      const doc = (await getJson(small, "containers")).body;
      assertEquals(snap.json.engines, doc.engines);
      assert(
        (snap.json.engines as EngineJson[])[0].containers.some((c) =>
          c.id === ids2[2]
        ),
      );
      // IDs that are not this run's: from another run, malformed, future.
      for (const id of ["5", "soon", String(BigInt(ref.lastEventId) + 10n)]) {
        const other = await SseClient.connect(small.url, { lastEventId: id });
        clients2.push(other);
        await other.waitFor((e) => e.length >= 1, `a snapshot for ${id}`);
        assertEquals(other.events[0].event, "snapshot");
        assertEquals(other.events[0].json.reason, "unknown");
      }
    } finally {
      for (const c of clients2) await c.close();
      await docker("rm", "-f", ...ids2).catch(() => {});
    }
  },
);

integrationTest(
  "serve: read-only, token and host checks, client limit, bad requests — each refusal a JSON error with the reason",
  async (rig) => {
    await using fleet = dockerFleet(rig);
    await using open = await startAgent({
      fleet,
      listen: "127.0.0.1:0",
      maxClients: 2,
    });
    await fleet.ready;
    const target = targetOf(open.url);

    for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
      for (const path of ["/containers", "/events", "/", "/nope"]) {
        const res = await fetch(new URL(path, open.url), { method });
        assertEquals(res.status, 405, `${method} ${path}`);
        assertEquals(res.headers.get("allow"), "GET, HEAD");
        assertMatch(
          (await res.json()).error,
          new RegExp(`${method}.*read-only`),
        );
      }
    }
    const nope = await getJson(open, "nope");
    assertEquals(nope.status, 404);
    assertMatch(nope.body.error as string, /no route \/nope.*\/containers/);
    for (
      const [query, reason] of [
        ["bogus=1", /unknown query parameter "bogus"/],
        ["label==x", /has no key/],
        ["project=a&project=b", /"project" given more than once/],
        ["engine=", /"engine" needs/],
        ["token=x", /unknown query parameter "token"/],
      ] as const
    ) {
      const bad = await getJson(open, `containers?${query}`);
      assertEquals(bad.status, 400, query);
      assertMatch(bad.body.error as string, reason);
    }
    assertEquals((await getJson(open, "events?bogus=1")).status, 400);
    assertEquals((await getJson(open, "metrics?x=1")).status, 400);
    const long = await getJson(open, `containers?project=${"a".repeat(5000)}`);
    assertEquals(long.status, 414);
    assertMatch(long.body.error as string, /longer than 4096/);

    // Without a token, only loopback names as Host (DNS rebinding).
    const rebound = await request(target, "/containers", {
      headers: { host: "evil.example:9477" },
    });
    assertEquals(rebound.status, 403);
    assertMatch(JSON.parse(rebound.body).error, /evil\.example/);
    for (const host of ["localhost:1", "127.0.0.1", "[::1]:80"]) {
      assertEquals(
        (await request(target, "/containers", { headers: { host } })).status,
        200,
        host,
      );
    }

    // HEAD: headers only; HEAD /events registers no client.
    const head = await fetch(new URL("containers", open.url), {
      method: "HEAD",
    });
    assertEquals(head.status, 200);
    assertEquals(await head.text(), "");
    assertEquals(
      (await fetch(new URL("events", open.url), { method: "HEAD" })).status,
      200,
    );

    // At most maxClients SSE clients; the next gets 503 until one leaves.
    const a = await SseClient.connect(open.url);
    const b = await SseClient.connect(open.url);
    try {
      assertEquals([a.status, b.status], [200, 200]);
      const c = await SseClient.connect(open.url);
      assertEquals(c.status, 503);
      assertMatch(c.refusal!.error as string, /too many \/events clients.*2/);
      const headFull = await fetch(new URL("events", open.url), {
        method: "HEAD",
      });
      assertEquals(headFull.status, 503);
      assertEquals(headFull.headers.get("retry-after"), "5");
      await a.close();
      let d: Sse | undefined;
      await waitFor(async () => {
        d = await SseClient.connect(open.url);
        if (d.status === 200) return true;
        return false;
      }, { what: "a free client slot after one left" });
      await d!.close();
    } finally {
      await a.close();
      await b.close();
    }

    // With a token: asked everywhere but / and /healthz.
    await using guarded = await startAgent({
      fleet,
      listen: "127.0.0.1:0",
      token: TOKEN,
    });
    const auth = { authorization: `Bearer ${TOKEN}` };
    for (const path of ["containers", "metrics", "events", "nope"]) {
      const none = await fetch(new URL(path, guarded.url));
      assertEquals(none.status, 401, path);
      assertEquals(
        none.headers.get("www-authenticate"),
        'Bearer realm="whalewatcher"',
      );
      assertMatch((await none.json()).error, /needs a bearer token/);
      const wrong = await getJson(guarded, path, {
        authorization: `Bearer ${TOKEN.slice(0, -1)}x`,
      });
      assertEquals(wrong.status, 401, path);
      assertEquals(wrong.body.error, "wrong bearer token");
    }
    assertEquals((await getJson(guarded, "containers", auth)).status, 200);
    const metrics = await fetch(new URL("metrics", guarded.url), {
      headers: auth,
    });
    assertEquals(metrics.status, 200);
    await metrics.body?.cancel();
    // The token in the query only on /events (EventSource sends no headers).
    const query = await getJson(guarded, `containers?token=${TOKEN}`);
    assertEquals(query.status, 401);
    assertMatch(query.body.error as string, /accepted on \/events only/);
    const viaQuery = await SseClient.connect(guarded.url, {
      query: `token=${TOKEN}`,
    });
    try {
      assertEquals(viaQuery.status, 200);
      await viaQuery.waitFor((e) => e.length >= 1, "the snapshot");
    } finally {
      await viaQuery.close();
    }
    const wrongQuery = await SseClient.connect(guarded.url, {
      query: "token=wrong-token-wrong-token",
    });
    assertEquals(wrongQuery.status, 401);
    // No token needed for health and the (data-less) page; with a token the
    // Host header is not checked.
    const health = await getJson(guarded, "healthz");
    assertEquals(health.status, 200);
    assertEquals(health.body.status, "ok");
    const page = await fetch(guarded.url);
    assertEquals(page.status, 200);
    assertMatch(page.headers.get("content-type")!, /text\/html/);
    assertMatch(
      page.headers.get("content-security-policy")!,
      /default-src 'none'.*script-src 'sha256-/,
    );
    assertMatch(await page.text(), /<ol id="feed"/);
    assertEquals(
      (await request(targetOf(guarded.url), "/containers", {
        headers: { host: "agent.example", ...auth },
      })).status,
      200,
    );

    // Off loopback a token is required; short tokens are refused.
    await assertRejects(
      () => startAgent({ fleet, listen: "0.0.0.0:0" }),
      (err: Error) => err instanceof TypeError && /token/.test(err.message),
    );
    await assertRejects(
      () => startAgent({ fleet, listen: "127.0.0.1:0", token: "short" }),
      (err: Error) => err instanceof TypeError && /too short/.test(err.message),
    );
    const lines: string[] = [];
    const say = {
      out: (l: string) => lines.push(l),
      err: (l: string) => lines.push(l),
    };
    assertEquals(await main(["--listen", "0.0.0.0:9477"], say), 2);
    assertMatch(lines.join("\n"), /reachable from other machines.*token/);
    assertEquals(await main(["--token", "tiny-Tok3n"], say), 2);
    assertEquals(await main(["--listen", "nowhere"], say), 2);
    assertEquals(await main(["--max-clients", "0"], say), 2);
    assertEquals(await main(["--json"], say), 2);
    // An address in use: exit 1, saying why.
    assertEquals(
      await main([
        "--socket",
        rig.dockerSocket,
        "--listen",
        new URL(open.url).host,
      ], say),
      1,
    );
    assertMatch(lines.join("\n"), /cannot serve: .*(in use|AddrInUse)/i);
    assertEquals(await main(["--help"], say), 0);
    assertMatch(lines.join("\n"), /usage: deno task serve/);
    assert(!lines.join("\n").includes("tiny-Tok3n"), "a token was echoed");
  },
);

integrationTest(
  "serve: --listen unix:PATH — served on the socket (mode 0660), a stale socket replaced, a live one refused, removed on close",
  async (rig) => {
    await using fleet = dockerFleet(rig);
    await fleet.ready;
    const path = `${rig.dir}/${uniq("agent")}.sock`;
    // A socket file left by a dead agent (a process that exits without
    // closing its listener leaves the file).
    const dead = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `Deno.listen({ transport: "unix", path: ${
          JSON.stringify(path)
        } }); Deno.exit(0)`,
      ],
    }).output();
    assert(dead.success, new TextDecoder().decode(dead.stderr));
    assert((await Deno.lstat(path)).isSocket, "no stale socket to test with");
    const agent = await startAgent({ fleet, listen: `unix:${path}` });
    try {
      assertEquals(agent.url, `unix:${path}`);
      assertEquals((await Deno.stat(path)).mode! & 0o777, 0o660);
      const target = { path };
      const res = await request(target, "/containers");
      assertEquals(res.status, 200);
      assertEquals(
        (JSON.parse(res.body).engines as EngineJson[])[0].api,
        rig.dockerSocket,
      );
      // No Host check on a unix socket: the file's mode guards it.
      assertEquals(
        (await request(target, "/healthz", { headers: { host: "x.example" } }))
          .status,
        200,
      );
      const events = await request(target, "/nope");
      assertEquals(events.status, 404);
      await assertRejects(
        () => startAgent({ fleet, listen: `unix:${path}` }),
        (err: Error) => /another process answers/.test(err.message),
      );
      await assertRejects(
        () => startAgent({ fleet, listen: "unix:relative.sock" }),
        TypeError,
      );
    } finally {
      await agent.close();
    }
    await assertRejects(() => Deno.lstat(path), Deno.errors.NotFound);
  },
);

/** Parses the exposition; checks HELP/TYPE per family and the name rules. */
function parseMetrics(text: string) {
  const help = new Set<string>();
  const types = new Map<string, string>();
  const samples: {
    name: string;
    labels: Record<string, string>;
    value: number;
  }[] = [];
  assert(text.endsWith("\n"), "exposition must end with a line feed");
  for (const line of text.split("\n").filter(Boolean)) {
    let m;
    if ((m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$/.exec(line))) {
      help.add(m[1]);
    } else if (
      (m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge)$/.exec(line))
    ) {
      assert(help.has(m[1]), `TYPE before HELP for ${m[1]}`);
      types.set(m[1], m[2]);
    } else {
      m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      assert(m, `not a sample line: ${line}`);
      const [, name, rawLabels, value] = m;
      assert(types.has(name), `sample of ${name} without HELP and TYPE`);
      const labels: Record<string, string> = {};
      const re = /([a-z_][a-z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/g;
      let consumed = 0;
      for (const l of (rawLabels ?? "").matchAll(re)) {
        labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => c === "n" ? "\n" : c);
        consumed += l[0].length;
      }
      assertEquals(consumed, (rawLabels ?? "").length, `labels of ${line}`);
      const v = Number(value);
      assert(!Number.isNaN(v) || value === "NaN", `value of ${line}`);
      samples.push({ name, labels, value: v });
    }
  }
  for (const [name, type] of types) {
    assert(name.startsWith("whalewatcher_") || name.startsWith("process_"));
    assertEquals(name.endsWith("_total"), type === "counter", name);
  }
  return { types, samples };
}

integrationTest(
  "serve: /metrics is valid text format 0.0.4 with containers by project and state, event counters, engine state and SSE clients",
  async (rig) => {
    await using fleet = dockerFleet(rig);
    await using agent = await startAgent({ fleet, listen: "127.0.0.1:0" });
    await fleet.ready;
    const metrics = async () => {
      const res = await fetch(new URL("metrics", agent.url));
      assertEquals(res.status, 200);
      assertEquals(
        res.headers.get("content-type"),
        "text/plain; version=0.0.4; charset=utf-8",
      );
      return parseMetrics(await res.text());
    };
    const value = (
      m: Awaited<ReturnType<typeof metrics>>,
      name: string,
      labels: Record<string, string>,
    ) =>
      m.samples.find((s) =>
        s.name === name &&
        Object.entries(labels).every(([k, v]) => s.labels[k] === v)
      )?.value;
    const docker_ = { engine_type: "docker.com", engine_api: rig.dockerSocket };
    // A project name that needs escaping in a label value.
    const project = `we"ird\\${uniq("p")}\nline`;
    const before = await metrics();
    for (
      const family of [
        "whalewatcher_containers",
        "whalewatcher_events_total",
        "whalewatcher_resyncs_total",
        "whalewatcher_stalls_total",
        "whalewatcher_subscriber_overflows_total",
        "whalewatcher_engine_up",
        "whalewatcher_last_sync_age_seconds",
        "whalewatcher_sse_clients",
        "whalewatcher_sse_clients_dropped_total",
      ]
    ) assert(before.types.has(family), `${family} missing`);
    assertEquals(value(before, "whalewatcher_engine_up", docker_), 1);
    assert(value(before, "whalewatcher_last_sync_age_seconds", docker_)! >= 0);
    assertEquals(value(before, "whalewatcher_sse_clients", {}), 0);
    const startedBefore = value(before, "whalewatcher_events_total", {
      ...docker_,
      type: "started",
    }) ?? 0;

    const ids: string[] = [];
    const clients: Sse[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        ids.push(await run(rig, uniq("m"), { [PROJECT_LABEL]: project }));
      }
      await docker("pause", ids[2]);
      const of = { ...docker_, project };
      await waitFor(async () => {
        const m = await metrics();
        return value(m, "whalewatcher_containers", {
              ...of,
              state: "running",
            }) === 2 &&
          value(m, "whalewatcher_containers", { ...of, state: "paused" }) === 1;
      }, { what: "2 running and 1 paused container in the gauge" });
      const after = await metrics();
      assertEquals(
        value(after, "whalewatcher_events_total", {
          ...docker_,
          type: "started",
        }),
        startedBefore + 3,
      );
      assert(
        value(after, "whalewatcher_events_total", {
          ...docker_,
          type: "paused",
        })! >= 1,
      );
      // The gauge's total equals the engine's truth.
      const total = after.samples.filter((s) =>
        s.name === "whalewatcher_containers" &&
        s.labels.engine_api === rig.dockerSocket
      ).reduce((n, s) => n + s.value, 0);
      assertEquals(total, (await dockerTruth()).size);

      clients.push(await SseClient.connect(agent.url));
      clients.push(await SseClient.connect(agent.url));
      assertEquals(value(await metrics(), "whalewatcher_sse_clients", {}), 2);
      for (const c of clients) await c.close();
      await waitFor(
        async () =>
          value(await metrics(), "whalewatcher_sse_clients", {}) === 0,
        { what: "the SSE client gauge back to 0" },
      );
    } finally {
      for (const c of clients) await c.close();
      await docker("rm", "-f", ...ids).catch(() => {});
    }
  },
);

integrationTest(
  "serve: /healthz turns 503 with the reason when dockerd stops, the stream tells exited and engine-removed, then engine-added and engine-ready when it is back",
  async (rig) => {
    await using fleet = dockerFleet(rig);
    await using agent = await startAgent({ fleet, listen: "127.0.0.1:0" });
    await fleet.ready;
    const healthz = () => getJson(agent, "healthz");
    const ok = await healthz();
    assertEquals(ok.status, 200);
    assertEquals(ok.body.status, "ok");
    assertEquals(
      (ok.body.engines as { api: string; state: string }[]).map((
        e,
      ) => [e.api, e.state]),
      [[rig.dockerSocket, "ready"]],
    );
    const id = await run(rig, uniq("doomed"));
    const sse = await SseClient.connect(agent.url);
    try {
      await sse.waitFor(
        (e) => e.some((m) => m.json.id === id || snapshotHas(m, id)),
        "the container in the stream",
      );
      await stopEngine(primary("docker"));
      try {
        let reasons = "";
        await waitFor(async () => {
          const h = await healthz();
          reasons = JSON.stringify(h.body.reasons);
          return h.status === 503 && h.body.status === "unavailable" &&
            reasons.includes(rig.dockerSocket);
        }, { what: "healthz 503 naming the docker socket" });
        await sse.waitFor(
          (e) => e.some((m) => m.event === "engine-removed"),
          "engine-removed",
        );
      } finally {
        await startEngine(primary("docker"));
      }
      await waitFor(async () => (await healthz()).status === 200, {
        what: "healthz back to 200",
        timeoutMs: 30_000,
      });
      await sse.waitFor(
        (e) => e.some((m) => m.event === "engine-ready"),
        "engine-ready",
      );
      const types = sse.changes().map((e) =>
        e.event.startsWith("engine-") ? e.event : `${e.event}:${e.json.id}`
      );
      const removed = types.indexOf("engine-removed");
      assert(types.slice(0, removed).includes(`exited:${id}`), types.join());
      assertEquals(
        types.slice(removed).filter((t) => t.startsWith("engine-")),
        ["engine-removed", "engine-added", "engine-ready"],
      );
      const ready = sse.events.find((e) => e.event === "engine-ready")!;
      const ref = ready.json.engine as Record<string, unknown>;
      assertEquals([ref.type, ref.api], ["docker.com", rig.dockerSocket]);
      assertMatch(ready.json.time as string, /^\d{4}-/);
    } finally {
      await sse.close();
      await docker("rm", "-f", id).catch(() => {});
    }
  },
);

function snapshotHas(
  e: { event: string; json: Record<string, unknown> },
  id: string,
) {
  return e.event === "snapshot" &&
    (e.json.engines as EngineJson[]).some((g) =>
      g.containers.some((c) => c.id === id)
    );
}

integrationTest(
  "serve: /healthz is 503 naming what was tried when no engine is found",
  async (rig) => {
    const path = `${rig.dir}/${uniq("none")}.sock`;
    await using fleet = new Fleet({ endpoints: [path], explicitOnly: true });
    await using agent = await startAgent({ fleet, listen: "127.0.0.1:0" });
    await fleet.ready;
    const h = await getJson(agent, "healthz");
    assertEquals(h.status, 503);
    assertMatch(
      (h.body.reasons as string[]).join(),
      new RegExp(`no container engine found.*${path.replaceAll(".", "\\.")}`),
    );
    assertEquals(await engines(agent), []);
  },
);
