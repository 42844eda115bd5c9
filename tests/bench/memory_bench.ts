// Memory of a long-running watcher (a script that prints figures): a
// library watcher (heap after a forced GC, and RSS) and the CLI
// (`deno task watch --json`'s own command line; RSS) follow the rig's
// dockerd while N (default 500) containers with compose-like labels start,
// then churn through C (default 5,000) start/stop cycles — an hour of a
// busy host — measured after each 500 cycles.
//
// Figures: heap per tracked container (the slope between N/2 and N
// containers, after the code paths are warm: (heap with N − heap with N/2)
// / (N/2); target ≤ 2 KB, container objects included), and growth from the
// end of the first churn cycle to the end (target ≤ 10 %), for heap and
// RSS.
//
//   source <rig dir>/env
//   deno run -A tests/bench/memory_bench.ts [--containers 500]
//     [--cycles 5000] [--checkout DIR]
import { parseArgs } from "node:util";
import { mapPool } from "../../engineclient/_async.ts";
import { rig } from "../engines/rig.ts";
import { DockerFleet } from "./_docker_fleet.ts";
import {
  checkoutRoot,
  JsonChild,
  lines,
  mb,
  printLoadAverage,
  rssBytes,
  watchTaskArgs,
  within,
} from "./_scale.ts";

const LIBRARY = new URL("./_idle_watcher.ts", import.meta.url).pathname;
const CYCLE = 500;
const CHURN_CONCURRENCY = 4;

interface Figures {
  size: number;
  events: number;
  heap: number;
  external: number;
  rss: number;
}

// The CLI, its events counted from its JSON lines.
class Cli {
  readonly process: Deno.ChildProcess;
  events = 0;
  ready = Promise.withResolvers<void>();
  readonly #reading: Promise<void>;

  constructor(root: string, socket: string) {
    const path = new URL(root).pathname;
    const child = new Deno.Command(Deno.execPath(), {
      args: [...watchTaskArgs(root), "--json", "--socket", socket],
      cwd: path,
      env: { INIT_CWD: path, NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.process = child;
    this.#reading = (async () => {
      for await (const line of lines(child.stdout)) {
        const type = JSON.parse(line).type;
        if (type === "ready") this.ready.resolve();
        if (type === "started" || type === "exited") this.events++;
      }
    })();
  }

  async stop(): Promise<void> {
    this.process.kill("SIGINT");
    await this.process.status;
    await this.#reading;
  }
}

async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 300_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      containers: { type: "string", default: "500" },
      cycles: { type: "string", default: "5000" },
      checkout: { type: "string" },
    },
  });
  const r = rig();
  if (!r) throw new Error("the rig is not up: source <rig dir>/env first");
  const n = Number(values.containers);
  const cycles = Number(values.cycles);
  const root = checkoutRoot(values.checkout);
  const fleet = new DockerFleet(r.dockerSocket, r.image);
  const library = new JsonChild(Deno.execPath(), [
    "run",
    "-A",
    "--v8-flags=--expose-gc",
    "--config",
    new URL("deno.json", root).pathname,
    LIBRARY,
    root,
    r.dockerSocket,
  ], {});
  const cli = new Cli(root, r.dockerSocket);
  const measure = async (): Promise<Figures> => {
    await library.send("measure");
    return await library.next<Figures>();
  };
  // Waits until both have seen `events` events; then measures.
  const settled = async (events: number, label: string) => {
    let lib: Figures | undefined;
    await until(async () => {
      lib = await measure();
      return lib.events >= events && cli.events >= events;
    }, `${label}: ${events} events`);
    const row = { label, lib: lib!, cliRss: rssBytes(cli.process.pid) };
    console.log(
      `${label.padEnd(22)} library: ${lib!.size} alive, heap ${
        mb(lib!.heap)
      }, external ${mb(lib!.external)}, RSS ${mb(lib!.rss)};  CLI: RSS ${
        mb(row.cliRss)
      }`,
    );
    return row;
  };
  try {
    await library.next(); // ready
    await cli.ready.promise;
    const base = await settled(0, "no containers");
    const project = `shop-${crypto.randomUUID().slice(0, 4)}`;
    const labels = {
      "com.docker.compose.project": project,
      "com.docker.compose.service": "web",
      "com.docker.compose.oneoff": "False",
      "com.docker.compose.version": "2.40.3",
      "com.docker.compose.config-hash":
        "8f14e45fceea167a5a36dedd4bea2543a1c4bfcd0e2a0c2f0a0a1c0d3e1f2a3b",
      "org.opencontainers.image.source": "https://example.org/shop",
    };
    const half = Math.floor(n / 2);
    console.log(`starting ${half} containers ...`);
    const ids = await fleet.run(half, { labels });
    const halfway = await settled(half, `${half} containers`);
    console.log(`starting ${n - half} more ...`);
    ids.push(...await fleet.run(n - half, { labels }));
    let events = n;
    const synced = await settled(events, `${n} containers`);
    const rows = [];
    for (let done = 0; done < cycles; done += CYCLE) {
      const batch = Math.min(CYCLE, cycles - done);
      // dockerd 20.10 can deadlock in its libnetwork-setkey hook under
      // many concurrent starts on a loaded machine: a bounded wait names
      // the container instead of hanging the benchmark.
      await mapPool(
        Array.from({ length: batch }, (_, i) => ids[(done + i) % n]),
        async (id) => {
          await within(fleet.kill([id], 1), 120_000, `kill of ${id}`);
          await within(fleet.start([id], 1), 120_000, `start of ${id}`);
        },
        { concurrency: CHURN_CONCURRENCY },
      );
      events += 2 * batch;
      rows.push(await settled(events, `${done + batch} cycles`));
    }
    const first = rows[0], last = rows[rows.length - 1];
    const perContainer = (synced.lib.heap - halfway.lib.heap) / (n - half);
    const growth = (a: number, b: number) =>
      `${(100 * (b / a - 1)).toFixed(1)} %`;
    console.log(`\nmemory, ${n} containers, ${cycles} start/stop cycles`);
    console.log(
      `   library: heap per tracked container ${
        (perContainer / 1024).toFixed(2)
      } KB (≤ 2 KB; ${half} → ${n}), ${
        ((synced.lib.heap - base.lib.heap) / n / 1024).toFixed(2)
      } KB counting from none; RSS per container ${
        ((synced.lib.rss - halfway.lib.rss) / (n - half) / 1024).toFixed(1)
      } KB`,
    );
    console.log(
      `   library: growth after the first cycle: heap ${
        growth(first.lib.heap, last.lib.heap)
      }, RSS ${growth(first.lib.rss, last.lib.rss)} (≤ 10 %)`,
    );
    console.log(
      `   CLI: RSS ${mb(base.cliRss)} → ${mb(synced.cliRss)} with ${n} → ${
        mb(last.cliRss)
      } after churn; growth after the first cycle ${
        growth(first.cliRss, last.cliRss)
      } (≤ 10 %)`,
    );
    printLoadAverage();
  } finally {
    await library.send("stop").catch(() => {});
    await library.finish();
    await cli.stop();
    await fleet.removeAll();
  }
}

if (import.meta.main) await main();
