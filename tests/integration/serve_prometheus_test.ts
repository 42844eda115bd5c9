// The agent's /metrics consumed by a real Prometheus (Debian's): it scrapes
// the agent with the bearer token, with the README's scrape config, and
// its HTTP API reports the rig's alive containers, equal to Docker's own
// count, then follows a stop and a pause. promtool accepts the agent's
// metrics text, and is shown to reject bad texts.

import { assert, assertEquals, assertMatch } from "../_assert.ts";
import {
  consumerTest,
  PROMETHEUS,
  PROMTOOL,
  startPrometheus,
  until,
} from "../engines/consumers.ts";
import type { Rig } from "../engines/rig.ts";
import { docker } from "../engines/docker.ts";
import { Fleet } from "../../mod.ts";
import { startAgent } from "../../serve/mod.ts";
import { parse, stringify } from "yaml";

async function dockerAlive(): Promise<number> {
  return (await docker("ps", "-q")).split("\n").filter(Boolean).length;
}

async function withAgent(
  rig: Rig,
  token: string,
  fn: (url: string) => Promise<void>,
): Promise<void> {
  await using fleet = new Fleet({
    endpoints: [rig.dockerSocket],
    explicitOnly: true,
    types: ["docker.com"],
  });
  await fleet.ready;
  await using agent = await startAgent({
    fleet,
    listen: "127.0.0.1:0",
    token,
  });
  await fn(agent.url);
}

// The scrape job of the README's Prometheus example (its static one).
// deno-lint-ignore no-explicit-any
function readmeScrapeJob(): any {
  const readme = Deno.readTextFileSync(
    new URL("../../README.md", import.meta.url),
  );
  for (const [, block] of readme.matchAll(/```yaml\n([\s\S]*?)```/g)) {
    const config = parse(block);
    // deno-lint-ignore no-explicit-any
    const job = config?.scrape_configs?.find((j: any) =>
      j.job_name === "whalewatcher"
    );
    if (!job) continue;
    // What the test replaces is all the example leaves to the reader.
    assertEquals(Object.keys(job).sort(), [
      "authorization",
      "job_name",
      "static_configs",
    ]);
    assertEquals(Object.keys(job.authorization), ["credentials_file"]);
    return job;
  }
  throw new Error("README.md has no yaml block with scrape job whalewatcher");
}

async function promtool(
  args: string[],
  stdin = "",
): Promise<{ code: number; out: string }> {
  const child = new Deno.Command(PROMTOOL, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const out = await child.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, out: decode(out.stdout) + decode(out.stderr) };
}

function token(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

consumerTest(
  "serve: Prometheus scrapes /metrics with the token and counts the rig's alive containers like Docker does",
  { tools: [PROMETHEUS, PROMTOOL], rig: true },
  async (rig) => {
    const dir = await Deno.makeTempDir({ prefix: "ww-prometheus-" });
    const ids: string[] = [];
    try {
      const project = `prom-${crypto.randomUUID().slice(0, 8)}`;
      for (let i = 0; i < 3; i++) {
        ids.push(
          await docker(
            "run",
            "-d",
            "-l",
            `com.docker.compose.project=${project}`,
            rig.image,
          ),
        );
      }
      const secret = token();
      await withAgent(rig, secret, async (url) => {
        const target = new URL(url).host;
        await Deno.writeTextFile(`${dir}/token`, secret);
        // The README's scrape job with this agent as its target and this
        // token file, plus the same target without the token: that job must
        // fail, so the token is what makes the README's work.
        const job = readmeScrapeJob();
        job.authorization.credentials_file = `${dir}/token`;
        job.static_configs = [{ targets: [target] }];
        const config = stringify({
          global: { scrape_interval: "1s", scrape_timeout: "1s" },
          scrape_configs: [
            job,
            { job_name: "no-token", static_configs: [{ targets: [target] }] },
          ],
        });
        await Deno.writeTextFile(`${dir}/check.yml`, config);
        const check = await promtool(["check", "config", `${dir}/check.yml`]);
        assertEquals(check.code, 0, check.out);
        // ... and that check does catch a typo'd field.
        await Deno.writeTextFile(
          `${dir}/typo.yml`,
          config.replace("credentials_file:", "credential_file:"),
        );
        const typo = await promtool(["check", "config", `${dir}/typo.yml`]);
        assertEquals(typo.code, 1, typo.out);
        assertMatch(typo.out, /credential_file not found/);
        await using prometheus = await startPrometheus(dir, config);
        const alive =
          `sum(whalewatcher_containers{engine_api="${rig.dockerSocket}"})`;
        const value = async (expr: string) => {
          const result = await prometheus.query(expr);
          return result.length === 1 ? Number(result[0].value[1]) : undefined;
        };
        const expectAlive = async (what: string) => {
          const truth = await dockerAlive();
          let seen: number | undefined;
          await until(
            `${what}: Prometheus to report ${truth} alive containers`,
            async () => {
              seen = await value(alive);
              return seen === truth;
            },
            { timeoutMs: 20_000, intervalMs: 250 },
          ).catch((error) => {
            throw prometheus.daemon.error(
              `${error.message} (last value: ${seen})`,
            );
          });
          return truth;
        };

        const first = await expectAlive("after the start");
        assert(first >= 3, `docker counts ${first} alive containers`);
        assertEquals(await value('up{job="whalewatcher"}'), 1);
        await until(
          "the job without the token to be down",
          async () => (await value('up{job="no-token"}')) === 0,
          {
            timeoutMs: 20_000,
            intervalMs: 250,
          },
        );

        // It follows the engine: one stopped, one paused.
        await docker("rm", "-f", ids.pop()!);
        await docker("pause", ids[0]);
        assertEquals(await expectAlive("after a stop"), first - 1);
        const paused =
          `sum(whalewatcher_containers{engine_api="${rig.dockerSocket}",project="${project}",state="paused"})`;
        await until(
          "Prometheus to report the paused container",
          async () => (await value(paused)) === 1,
          { timeoutMs: 20_000, intervalMs: 250 },
        );
        await docker("unpause", ids[0]);
      });
    } finally {
      if (ids.length) await docker("rm", "-f", ...ids);
      await Deno.remove(dir, { recursive: true });
    }
  },
);

consumerTest(
  "serve: promtool check metrics passes on /metrics and fails on bad metrics texts",
  { tools: [PROMTOOL], rig: true },
  async (rig) => {
    const secret = token();
    await withAgent(rig, secret, async (url) => {
      const response = await fetch(new URL("metrics", url), {
        headers: { authorization: `Bearer ${secret}` },
      });
      assertEquals(response.status, 200);
      assertMatch(response.headers.get("content-type") ?? "", /^text\/plain/);
      const text = await response.text();
      for (
        const name of [
          "whalewatcher_containers",
          "whalewatcher_events_total",
          "whalewatcher_resyncs_total",
          "whalewatcher_stalls_total",
          "whalewatcher_subscriber_overflows_total",
          "whalewatcher_engine_up",
          "whalewatcher_last_sync_age_seconds",
          "whalewatcher_sse_clients",
        ]
      ) {
        assertMatch(text, new RegExp(`^# TYPE ${name} `, "m"));
      }
      const good = await promtool(["check", "metrics"], text);
      assertEquals(good.code, 0, good.out);

      // The same text with a counter not named *_total: a lint problem
      // (exit 3), reported by name.
      const renamed = text.replaceAll(
        "whalewatcher_resyncs_total",
        "whalewatcher_resyncs",
      );
      const lint = await promtool(["check", "metrics"], renamed);
      assertEquals(lint.code, 3, lint.out);
      assertMatch(lint.out, /whalewatcher_resyncs/);
      // A line that is no metric at all: a parse error (exit 1).
      const broken = await promtool(
        ["check", "metrics"],
        text + "whalewatcher_containers{oops\n",
      );
      assertEquals(broken.code, 1, broken.out);
    });
  },
);
