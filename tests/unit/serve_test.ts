// The agent's core with in-memory engines, where the interleavings and the
// volumes the rig cannot make are needed: clients connecting while events
// flow, the agent falling behind the fleet, a client that stops reading.
// Plus the small pure parts (flags, ring, token compare, label escaping).
import { assert, assertEquals, assertMatch, assertThrows } from "../_assert.ts";
import { startAgent } from "../../serve/mod.ts";
import { parseListen, parseServeArgs, UsageError } from "../../cli/_args.ts";
import { Ring } from "../../serve/_ring.ts";
import {
  bearerToken,
  constantTimeEquals,
  isLoopbackHost,
} from "../../serve/_auth.ts";
import { escapeLabelValue } from "../../serve/_metrics.ts";
import { PAGE_HTML, pageCsp } from "../../serve/_page.ts";
import { waitFor } from "../engines/rig.ts";
import { memFleet } from "../serve/_mem_fleet.ts";
import { SseClient } from "../serve/_sse_client.ts";
import { connect, targetOf } from "../serve/_raw_http.ts";
import { flush } from "./_fake_engine.ts";

type State = Map<string, { pid: number; paused: boolean }>;

/** What a client knows after its snapshot and the events since. */
function clientState(client: SseClient): State {
  const state: State = new Map();
  for (const e of client.events) {
    if (e.event === "snapshot") {
      state.clear();
      for (const engine of e.json.engines as { containers: [] }[]) {
        for (const c of engine.containers as Record<string, unknown>[]) {
          state.set(c.id as string, {
            pid: c.pid as number,
            paused: c.paused as boolean,
          });
        }
      }
    } else if (e.event === "exited") state.delete(e.json.id as string);
    else if (!e.event.startsWith("engine-")) {
      state.set(e.json.id as string, {
        pid: e.json.pid as number,
        paused: e.json.paused as boolean,
      });
    }
  }
  return state;
}

function fleetState(
  fleet: {
    containers(): { container: { id: string; pid: number; paused: boolean } }[];
  },
): State {
  return new Map(
    fleet.containers().map(({ container: c }) => [
      c.id,
      { pid: c.pid, paused: c.paused },
    ]),
  );
}

/** IDs after the last snapshot are consecutive (unfiltered clients). */
function assertConsecutive(client: SseClient): void {
  let last: bigint | undefined;
  for (const e of client.events) {
    const id = BigInt(e.id);
    if (e.event === "snapshot") last = id;
    else {
      assertEquals(
        id,
        last! + 1n,
        `gap or duplicate before ${e.event} ${e.id}`,
      );
      last = id;
    }
  }
}

Deno.test("serve: clients connecting while events flow each get a snapshot and then exactly the events after it", async () => {
  const mem = memFleet();
  await using fleet = mem.fleet;
  await using agent = await startAgent({
    fleet,
    listen: "127.0.0.1:0",
    clientQueueSize: 100_000,
  });
  await fleet.ready;
  const engine = await mem.engine("mem://a");
  const connecting: Promise<SseClient>[] = [];
  const clients: SseClient[] = [];
  try {
    let alive: string[] = [];
    for (let i = 0; i < 3000; i++) {
      engine.start({ id: `c${i}`, name: `n${i}`, pid: 10_000 + i });
      alive.push(`c${i}`);
      if (i % 3 === 2) engine.exit(alive.shift()!);
      if (i % 5 === 4) engine.pause(alive[0], i % 10 === 4);
      // Connections are not awaited: the agent takes them between events.
      if (i % 500 === 250) connecting.push(SseClient.connect(agent.url));
      if (i % 5 === 0) await flush();
    }
    clients.push(...await Promise.all(connecting));
    alive = [];
    engine.start({ id: "marker", name: "marker", pid: 1 });
    for (const c of clients) {
      await c.waitFor(
        (e) => e.some((m) => m.json.id === "marker"),
        "the marker",
      );
    }
    const truth = fleetState(fleet);
    assertEquals(truth.size, 2001);
    const snapshots = new Set<string>();
    for (const c of clients) {
      assertEquals(c.events[0].event, "snapshot");
      snapshots.add(c.events[0].id);
      assertConsecutive(c);
      assertEquals(clientState(c), truth);
    }
    // They connected at different points of the stream.
    assert(snapshots.size > 1, `all snapshots at ${[...snapshots]}`);
    assertEquals(clients.length, 6);
  } finally {
    for (const c of clients) await c.close();
  }
});

Deno.test("serve: when the agent falls behind the fleet it resubscribes and sends the difference: clients stay exact", async () => {
  const mem = memFleet({
    engine: { autoList: false },
    seed: (engine) => {
      for (let i = 0; i < 50; i++) {
        engine.add({ id: `s${i}`, name: `seed${i}`, paused: i % 7 === 0 });
      }
    },
  });
  await using fleet = mem.fleet;
  // A queue of 5: the first list's 50 starts overflow it.
  await using agent = await startAgent({
    fleet,
    listen: "127.0.0.1:0",
    fleetQueueSize: 5,
  });
  const engine = await mem.engine("mem://a");
  const list = await engine.nextList();
  const client = await SseClient.connect(agent.url);
  try {
    await client.waitFor((e) => e.length === 1, "the snapshot");
    list.resolve();
    await fleet.ready;
    await client.waitFor(
      (e) => e.some((m) => m.event === "engine-ready"),
      "engine-ready",
    );
    assertEquals(clientState(client), fleetState(fleet));
    assertEquals(clientState(client).size, 50);
    assertConsecutive(client);
    const metrics = await (await fetch(new URL("metrics", agent.url))).text();
    const resyncs = /^whalewatcher_agent_resyncs_total (\d+)$/m.exec(metrics);
    assert(Number(resyncs?.[1]) >= 1, metrics);
    // Live again after the resync.
    engine.exit("s3");
    await client.waitFor(
      (e) => e.some((m) => m.event === "exited" && m.json.id === "s3"),
      "s3 exited",
    );
    assertEquals(clientState(client), fleetState(fleet));
  } finally {
    await client.close();
  }
});

Deno.test("serve: a client that stops reading is dropped once its queue is full; the others get every event", async () => {
  const mem = memFleet();
  await using fleet = mem.fleet;
  await using agent = await startAgent({
    fleet,
    listen: "127.0.0.1:0",
    clientQueueSize: 256,
  });
  await fleet.ready;
  const engine = await mem.engine("mem://a");
  const fast = await SseClient.connect(agent.url);
  // The slow one asks for the stream and never reads a byte.
  const slow = await connect(targetOf(agent.url));
  await slow.write(
    new TextEncoder().encode(
      "GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n",
    ),
  );
  const metric = async (name: string) => {
    const text = await (await fetch(new URL("metrics", agent.url))).text();
    return Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1]);
  };
  try {
    await waitFor(async () => await metric("whalewatcher_sse_clients") === 2, {
      what: "two SSE clients",
    });
    // Big events fill the slow client's socket buffers fast.
    const big = "x".repeat(2000);
    const n = 10_000;
    for (let i = 0; i < n; i += 10) {
      for (let j = i; j < i + 10; j++) {
        engine.start({ id: `b${j}`, labels: { big } });
      }
      await flush();
      for (let j = i; j < i + 10; j++) engine.exit(`b${j}`);
      await flush();
    }
    await fast.waitFor(
      (e) => e.filter((m) => m.event === "exited").length === n,
      `${n} exits`,
      60_000,
    );
    assertEquals(await metric("whalewatcher_sse_clients_dropped_total"), 1);
    assertEquals(await metric("whalewatcher_sse_clients"), 1);
    assertEquals(fast.changes().length, 2 * n);
    assertConsecutive(fast);
    assert(!fast.ended, "the fast client was dropped");
    // The agent closed the slow one's connection: reading drains what the
    // kernel held, then ends.
    const buf = new Uint8Array(1 << 16);
    let read = 0;
    while (true) {
      const got = await slow.read(buf).catch(() => null);
      if (got === null) break;
      read += got;
    }
    assert(read < 2 * n * 2100, `the slow client got everything (${read} B)`);
  } finally {
    slow.close();
    await fast.close();
  }
});

Deno.test("serve: flags — listen addresses, a token off loopback, numbers", () => {
  assertEquals(parseListen("127.0.0.1:9477"), {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 9477,
  });
  assertEquals(parseListen("[::1]:80"), {
    transport: "tcp",
    hostname: "::1",
    port: 80,
  });
  assertEquals(parseListen("unix:/run/ww.sock"), {
    transport: "unix",
    path: "/run/ww.sock",
  });
  for (
    const bad of ["9477", "host", ":80", "a:99999", "unix:rel.sock", "[::1:80"]
  ) {
    assertThrows(() => parseListen(bad), UsageError, bad);
  }
  const d = parseServeArgs([], {});
  assertEquals(d.listen, {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 9477,
  });
  assertEquals(
    [d.maxClients, d.bufferSize, d.clientQueueSize, d.heartbeatMs, d.token],
    [64, 10_000, 1_000, 15_000, undefined],
  );
  const token = "0123456789abcdef";
  assertThrows(
    () => parseServeArgs(["--listen", "0.0.0.0:1"], {}),
    (e: Error) => e instanceof UsageError && /needs|token/.test(e.message),
  );
  assertEquals(
    parseServeArgs(["--listen", "0.0.0.0:1"], { tokenEnv: token }).token,
    token,
  );
  assertEquals(
    parseServeArgs(["--listen", "10.1.2.3:1", "--token", token], {}).token,
    token,
  );
  assertThrows(
    () => parseServeArgs(["--token", "with space 0123456789"], {}),
    (e: Error) => /printable/.test(e.message) && !/with space/.test(e.message),
  );
  assertEquals(
    parseServeArgs(["--listen", "127.0.0.2:1"], {}).token,
    undefined,
  );
  const s = parseServeArgs([
    "--max-clients",
    "3",
    "--buffer",
    "0",
    "--client-queue",
    "7",
    "--heartbeat",
    "2",
    "--project",
    "p",
    "--label",
    "a=b",
    "--socket",
    "/run/x.sock",
  ], {});
  assertEquals(
    [s.maxClients, s.bufferSize, s.clientQueueSize, s.heartbeatMs],
    [3, 0, 7, 2000],
  );
  assertEquals([s.project, s.labels, s.sockets], ["p", [{
    key: "a",
    value: "b",
  }], ["/run/x.sock"]]);
  for (
    const bad of [["--max-clients", "0"], ["--buffer", "-1"], [
      "--heartbeat",
      "1.5",
    ], ["--once"]]
  ) {
    assertThrows(() => parseServeArgs(bad, {}), UsageError, bad.join(" "));
  }
});

Deno.test("serve: the replay ring, the token compare, Host names, label escaping", () => {
  const ring = new Ring<{ id: number }>(3);
  assertEquals(ring.after(0), undefined);
  for (let id = 1; id <= 5; id++) ring.push({ id });
  assertEquals(ring.after(2)?.map((e) => e.id), [3, 4, 5]);
  assertEquals(ring.after(4)?.map((e) => e.id), [5]);
  assertEquals(ring.after(5), []);
  assertEquals(ring.after(1), undefined); // 2 is gone
  assertEquals(ring.after(6), undefined);
  assertEquals(ring.after(NaN), undefined);
  assertEquals(new Ring<{ id: number }>(0).after(0), undefined);

  assert(constantTimeEquals("s3cret-s3cret-s3cret", "s3cret-s3cret-s3cret"));
  assert(!constantTimeEquals("s3cret-s3cret-s3creT", "s3cret-s3cret-s3cret"));
  assert(!constantTimeEquals("s3cret", "s3cret-s3cret-s3cret"));
  assert(!constantTimeEquals("", "s3cret-s3cret-s3cret"));
  assert(!constantTimeEquals("s3cret-s3cret-s3cret-", "s3cret-s3cret-s3cret"));
  assertEquals(
    bearerToken(new Headers({ authorization: "Bearer abc.def" })),
    "abc.def",
  );
  assertEquals(
    bearerToken(new Headers({ authorization: "Basic abc" })),
    undefined,
  );
  assertEquals(bearerToken(new Headers()), undefined);

  for (
    const ok of [
      "localhost",
      "localhost:9477",
      "127.0.0.1:1",
      "[::1]:9",
      "[::1]",
      null,
    ]
  ) {
    assert(isLoopbackHost(ok), String(ok));
  }
  for (
    const bad of [
      "evil.example",
      "evil.example:9477",
      "10.0.0.1",
      "localhost.evil.example",
      "127.0.0.1.evil.example",
    ]
  ) {
    assert(!isLoopbackHost(bad), bad);
  }
  assertEquals(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  assertMatch(escapeLabelValue("plain"), /^plain$/);
});

Deno.test("serve: the page's inline script parses and its CSP allows exactly its inline script and style", async () => {
  const script = /<script>([\s\S]*)<\/script>/.exec(PAGE_HTML)![1];
  const style = /<style>([\s\S]*)<\/style>/.exec(PAGE_HTML)![1];
  // A syntax error would leave the page blank in every browser.
  new Function(script);
  const hash = async (text: string) =>
    btoa(String.fromCharCode(
      ...new Uint8Array(
        await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)),
      ),
    ));
  const csp = await pageCsp();
  assert(csp.includes(`script-src 'sha256-${await hash(script)}'`), csp);
  assert(csp.includes(`style-src 'sha256-${await hash(style)}'`), csp);
  assertMatch(csp, /^default-src 'none'/);
  // No external asset, no markup built from strings.
  assert(!/(src|href)=["']?https?:/.test(PAGE_HTML));
  assert(
    !/innerHTML|outerHTML|insertAdjacentHTML|document\.write/.test(script),
  );
  for (
    const hook of [
      'class: "engine", "data-type"',
      '"data-api"',
      'class: "project", "data-project"',
      'class: "container", "data-id"',
      '"data-name"',
      '"data-paused"',
      'class: "event", "data-type"',
      'id="feed"',
      "(no project)",
      "#token=",
    ]
  ) assert(PAGE_HTML.includes(hook), `the page lost ${hook}`);
});
