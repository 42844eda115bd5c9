// `deno task serve` as a process, with exactly the task's permissions
// (read from deno.json): its routes on TCP and on a unix socket, the token
// never in its output, a clean stop on SIGTERM/SIGINT — and hostile
// clients (malformed and oversized requests, slowloris, twice the client
// limit) while a well-behaved client keeps being served and RSS stays
// bounded.
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { integrationTest, waitFor } from "../engines/rig.ts";
import { docker } from "../engines/docker.ts";
import { SseClient } from "../serve/_sse_client.ts";
import {
  connect,
  exchange,
  type RawTarget,
  request,
  targetOf,
} from "../serve/_raw_http.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const TOKEN = "serve-task-test-token-5f1c9a7e";

/** The `serve` task's `deno run` flags, from deno.json. */
function taskPermissions(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`));
  const words = (config.tasks.serve as string).split(/\s+/);
  assertEquals(words.slice(0, 2), ["deno", "run"]);
  assertEquals(words.at(-1), "serve/mod.ts");
  assert(!words.includes("-A") && !words.includes("--allow-all"));
  return words.slice(2).filter((w) => w.startsWith("--allow-"));
}

/** A running agent process and everything it wrote. */
class AgentProcess {
  readonly child: Deno.ChildProcess;
  output = "";
  url = "";
  #reading: Promise<void>[];

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...taskPermissions(), `${ROOT}serve/mod.ts`, ...args],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", ...env },
    }).spawn();
    this.#reading = [this.child.stdout, this.child.stderr].map(async (s) => {
      for await (const text of s.pipeThrough(new TextDecoderStream())) {
        this.output += text;
      }
    });
  }

  async started(): Promise<string> {
    await waitFor(() => /serving (\S+)/.test(this.output), {
      what: `the agent's "serving" line (output: ${this.output})`,
      timeoutMs: 30_000,
    });
    this.url = /serving (\S+)/.exec(this.output)![1];
    return this.url;
  }

  /** Resident set size in bytes, from procfs. */
  async rss(): Promise<number> {
    const status = await Deno.readTextFile(`/proc/${this.child.pid}/status`);
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
  }

  async stop(signal: Deno.Signal): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch { /* ended already */ }
    const status = await this.child.status;
    await Promise.all(this.#reading);
    return status;
  }
}

integrationTest(
  "serve task: under its exact permissions it serves every route on TCP and on a unix socket, never prints the token, and stops with 0",
  async (rig) => {
    const agent = new AgentProcess([
      "--socket",
      rig.dockerSocket,
      "--listen",
      "127.0.0.1:0",
      "--heartbeat",
      "1",
    ], { WHALEWATCHER_TOKEN: TOKEN });
    let stopped = false;
    try {
      const url = await agent.started();
      assertMatch(
        agent.output,
        /serving http:\/\/127\.0\.0\.1:\d+\/ \(bearer token required\)/,
      );
      const auth = { authorization: `Bearer ${TOKEN}` };
      await waitFor(async () => {
        const res = await fetch(new URL("healthz", url));
        await res.body?.cancel();
        return res.status === 200;
      }, { what: "healthz 200" });
      const containers = await fetch(new URL("containers", url), {
        headers: auth,
      });
      assertEquals(containers.status, 200);
      const doc = await containers.json();
      assertEquals(doc.engines[0].api, rig.dockerSocket);
      const metrics = await fetch(new URL("metrics", url), { headers: auth });
      assertMatch(await metrics.text(), /^whalewatcher_engine_up\{.*\} 1$/m);
      const page = await fetch(url);
      assertMatch(await page.text(), /<section|id="engines"/);
      // Wrong tokens, the token in a query where it is not accepted.
      for (
        const headers of [
          {},
          { authorization: "Bearer nope-nope-nope-nope" },
        ] as Record<string, string>[]
      ) {
        const res = await fetch(new URL("containers", url), { headers });
        assertEquals(res.status, 401);
        await res.body?.cancel();
      }
      const inQuery = await fetch(new URL(`containers?token=${TOKEN}`, url));
      assertEquals(inQuery.status, 401);
      await inQuery.body?.cancel();
      const sse = await SseClient.connect(url, { query: `token=${TOKEN}` });
      try {
        await sse.waitFor((e) => e.length >= 1, "the snapshot");
        assertEquals(sse.events[0].event, "snapshot");
        // The heartbeat comment keeps proxies from closing the stream.
        await waitFor(() => sse.comments.includes("ping"), {
          what: "a ': ping' comment",
        });
      } finally {
        await sse.close();
      }
      const status = await agent.stop("SIGTERM");
      stopped = true;
      assertEquals(status.code, 0, agent.output);
      assert(!agent.output.includes(TOKEN), "the token is in the output");
      assert(!agent.output.includes(TOKEN.slice(0, 12)));
      assertMatch(agent.output, /watching docker\.com at/);
    } finally {
      if (!stopped) await agent.stop("SIGKILL");
    }

    // A unix socket under /run (the task may write there): no token.
    const path = `${rig.dir}/serve-task-${
      crypto.randomUUID().slice(0, 8)
    }.sock`;
    const onUnix = new AgentProcess([
      "--socket",
      rig.dockerSocket,
      "--listen",
      `unix:${path}`,
    ]);
    stopped = false;
    try {
      assertEquals(await onUnix.started(), `unix:${path}`);
      const res = await request({ path }, "/containers");
      assertEquals(res.status, 200);
      assertEquals(JSON.parse(res.body).engines.length <= 1, true);
      const status = await onUnix.stop("SIGINT");
      stopped = true;
      assertEquals(status.code, 0, onUnix.output);
      let gone = false;
      await Deno.lstat(path).catch(() => gone = true);
      assert(gone, "the socket file is left behind");
    } finally {
      if (!stopped) await onUnix.stop("SIGKILL");
    }
  },
);

// The hostile requests: malformed, oversized, incomplete, wrong protocol.
function hostileRequests(): (string | Uint8Array)[] {
  const out: (string | Uint8Array)[] = [];
  const enc = (s: string) => new TextEncoder().encode(s);
  const kinds: (() => string | Uint8Array)[] = [
    () =>
      crypto.getRandomValues(
        new Uint8Array(1 + Math.floor(Math.random() * 4096)),
      ),
    () => "GET\r\n\r\n",
    () => "BREW /pot HTCPCP/1.0\r\nHost: localhost\r\n\r\n",
    () =>
      `GET /containers HTTP/1.1\r\nHost: localhost\r\nX-Big: ${
        "a".repeat(200_000)
      }\r\n\r\n`,
    () => `GET /${"b".repeat(100_000)} HTTP/1.1\r\nHost: localhost\r\n\r\n`,
    () =>
      `GET /containers HTTP/1.1\r\n${
        Array.from({ length: 2000 }, (_, i) => `X-H${i}: v\r\n`).join("")
      }\r\n`,
    () => "G\u0000T / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    () =>
      `POST /containers HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\n${
        "c".repeat(1_000_000)
      }`,
    () =>
      "GET /containers HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n",
    () => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    () =>
      "GET /containers HTTP/1.1\r\nHost: localhost\r\nX-Nul: a\u0000b\r\n\r\n",
    () =>
      "GET /containers HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n",
    () =>
      `GET /events HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: ${
        "9".repeat(50_000)
      }\r\n\r\n`,
    () =>
      `GET /containers?${
        "label=a&".repeat(2000)
      } HTTP/1.1\r\nHost: localhost\r\n\r\n`,
    () => "GET /containers HTTP/9.9\r\nHost: localhost\r\n\r\n",
    () => "GET /containers HTTP/1.1\r\nHost: evil.example\r\n\r\n",
    () => "DELETE /containers HTTP/1.1\r\nHost: localhost\r\n\r\n",
    () => "GET /containers?project=%ZZ HTTP/1.1\r\nHost: localhost\r\n\r\n",
  ];
  for (let i = 0; i < 1000; i++) {
    const r = kinds[i % kinds.length]();
    out.push(typeof r === "string" ? enc(r) : r);
  }
  return out;
}

// Opens a connection and dribbles a request that never completes.
async function slowloris(
  target: RawTarget,
  stop: AbortSignal,
): Promise<void> {
  const conn = await connect(target);
  const enc = new TextEncoder();
  try {
    await conn.write(
      enc.encode("GET /containers HTTP/1.1\r\nHost: localhost\r\n"),
    );
    let i = 0;
    while (!stop.aborted) {
      await conn.write(enc.encode(`X-Slow-${i++}: 1\r\n`)).catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    conn.close();
  }
}

integrationTest(
  "serve task: 1,000 malformed or oversized requests, 300 slowloris connections and twice the client limit of SSE clients: the well-behaved client is served, RSS stays bounded",
  async (rig) => {
    const MAX = 8;
    const agent = new AgentProcess([
      "--socket",
      rig.dockerSocket,
      "--listen",
      "127.0.0.1:0",
      "--max-clients",
      String(MAX),
    ]);
    let stopped = false;
    const stopSlow = new AbortController();
    const ids: string[] = [];
    const clients: SseClient[] = [];
    let slow: Promise<void>[] = [];
    try {
      const url = await agent.started();
      const target = targetOf(url);
      await waitFor(async () => {
        const res = await fetch(new URL("healthz", url));
        await res.body?.cancel();
        return res.status === 200;
      }, { what: "healthz 200" });
      // Warm up, then the baseline.
      for (let i = 0; i < 50; i++) {
        await (await fetch(new URL("containers", url))).body?.cancel();
      }
      const baseline = await agent.rss();
      let peak = baseline;
      const sample = async () => {
        peak = Math.max(peak, await agent.rss());
      };

      const good = await SseClient.connect(url);
      clients.push(good);
      await good.waitFor((e) => e.length >= 1, "the good client's snapshot");

      // Twice the client limit: the limit holds, each refusal says why.
      const rush = await Promise.all(
        Array.from({ length: 2 * MAX }, () => SseClient.connect(url)),
      );
      clients.push(...rush);
      const accepted = rush.filter((c) => c.status === 200).length;
      assertEquals(accepted, MAX - 1);
      for (const c of rush.filter((c) => c.status !== 200)) {
        assertEquals(c.status, 503);
        assertMatch(c.refusal!.error as string, /too many \/events clients/);
      }

      slow = Array.from(
        { length: 300 },
        () => slowloris(target, stopSlow.signal).catch(() => {}),
      );

      const requests = hostileRequests();
      const statuses = new Map<string, number>();
      let next = 0;
      await Promise.all(Array.from({ length: 50 }, async () => {
        while (next < requests.length) {
          const req = requests[next++];
          const text = await exchange(target, req, { timeoutMs: 3000 });
          const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? "none";
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (next % 100 === 0) {
            await sample();
            // The well-behaved client is served meanwhile.
            const res = await fetch(new URL("containers", url));
            assertEquals(res.status, 200);
            await res.body?.cancel();
          }
        }
      }));
      await sample();
      // No internal error; 503 only as the client limit of /events (the
      // well-formed one with a long Last-Event-ID).
      assert(!statuses.has("500"), `${statuses.get("500")} answers 500`);
      assert((statuses.get("503") ?? 0) <= Math.ceil(1000 / 18));

      // The well-behaved SSE client still gets live events.
      const id = await docker(
        "run",
        "-d",
        "--name",
        `hostile-${crypto.randomUUID().slice(0, 8)}`,
        rig.image,
      );
      ids.push(id);
      await good.waitFor(
        (e) => e.some((m) => m.event === "started" && m.json.id === id),
        "the good client's started event",
      );
      assert(!good.ended, "the good client was dropped");
      const health = await fetch(new URL("healthz", url));
      assertEquals(health.status, 200);
      await health.body?.cancel();
      await sample();
      stopSlow.abort();
      await Promise.all(slow);
      for (const c of clients) await c.close();
      await waitFor(async () => {
        const text = await (await fetch(new URL("metrics", url))).text();
        return /^whalewatcher_sse_clients 0$/m.test(text);
      }, { what: "no SSE client left" });
      const after = await agent.rss();
      const mb = (n: number) => (n / 2 ** 20).toFixed(1);
      console.log(
        `hostile: answers ${
          JSON.stringify(Object.fromEntries(statuses))
        }; RSS baseline ${mb(baseline)} MB, peak ${mb(peak)} MB, after ${
          mb(after)
        } MB`,
      );
      // Bounded: the attack's connections do not pile up memory.
      assert(peak < baseline + 128 * 2 ** 20, `peak RSS ${mb(peak)} MB`);
      assert(after < baseline + 64 * 2 ** 20, `RSS after ${mb(after)} MB`);
      const status = await agent.stop("SIGTERM");
      stopped = true;
      assertEquals(status.code, 0, agent.output.slice(-2000));
    } finally {
      stopSlow.abort();
      await Promise.all(slow);
      for (const c of clients) await c.close();
      if (!stopped) await agent.stop("SIGKILL");
      if (ids.length) await docker("rm", "-f", ...ids).catch(() => {});
    }
  },
);
