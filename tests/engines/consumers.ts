// The real consumers the serve tests drive, installed by
// tests/engines/install_consumers.sh: headless Chromium (through
// puppeteer-core, which never downloads a browser), Prometheus and promtool,
// and sid's kubectl. Each helper owns its process and its temp files and
// leaves nothing behind when closed.

import puppeteer, { type Browser } from "puppeteer-core";
import { integrationTest, type Rig } from "./rig.ts";

/** Debian's chromium. */
export const CHROMIUM = "/usr/bin/chromium";
/** Debian's prometheus. */
export const PROMETHEUS = "/usr/bin/prometheus";
/** Debian's promtool (package prometheus). */
export const PROMTOOL = "/usr/bin/promtool";
/** sid's kubectl, unpacked into the rig's cache (never installed). */
export const KUBECTL = `${
  Deno.env.get("WW_RIG_CACHE") ?? "/var/cache/whalewatcher-rig"
}/kubectl-1.36.4+ds-1/usr/bin/kubectl`;

function missing(tools: string[]): string[] {
  return tools.filter((tool) => {
    try {
      return !Deno.statSync(tool).isFile;
    } catch {
      return true;
    }
  });
}

let skipNoted = false;

/**
 * Registers a test that needs `tools` (absolute paths) and, with
 * `rig: true`, the test rig. A missing tool fails the test under CI=true
 * and skips it with one loud line otherwise, like a missing rig.
 */
export function consumerTest(
  name: string,
  options: { tools: string[]; rig: true },
  fn: (rig: Rig) => Promise<void>,
): void;
export function consumerTest(
  name: string,
  options: { tools: string[]; rig?: false },
  fn: () => Promise<void>,
): void;
export function consumerTest(
  name: string,
  options: { tools: string[]; rig?: boolean },
  fn: (rig: Rig) => Promise<void>,
): void {
  const absent = missing(options.tools);
  if (absent.length > 0) {
    const why = `needs ${
      absent.join(", ")
    } (run tests/engines/install_consumers.sh as root)`;
    if (Deno.env.get("CI") === "true") {
      Deno.test({
        name,
        fn: () => {
          throw new Error(`test ${why}`);
        },
      });
      return;
    }
    if (!skipNoted) {
      skipNoted = true;
      console.error(`\n!!! CONSUMER TESTS SKIPPED: ${why} !!!\n`);
    }
    Deno.test({ name, ignore: true, fn: () => {} });
    return;
  }
  if (options.rig) integrationTest(name, fn);
  else Deno.test({ name, fn: () => fn(undefined as unknown as Rig) });
}

/** A free TCP port on 127.0.0.1 (free when asked; used right after). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Resolves when `check` returns true; rejects after `timeoutMs` saying what. */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const deadline = performance.now() + (options.timeoutMs ?? 10_000);
  let last: unknown;
  while (true) {
    try {
      if (await check()) return;
      last = undefined;
    } catch (error) {
      last = error;
    }
    if (performance.now() > deadline) {
      throw new Error(
        `timed out after ${options.timeoutMs ?? 10_000} ms waiting for ${what}${
          last ? ` (last error: ${last})` : ""
        }`,
      );
    }
    await new Promise((resolve) =>
      setTimeout(resolve, options.intervalMs ?? 50)
    );
  }
}

/** A child process whose output is collected for error messages. */
export class Daemon {
  readonly #child: Deno.ChildProcess;
  readonly #name: string;
  #log = "";
  readonly #drained: Promise<void>;
  readonly status: Promise<Deno.CommandStatus>;

  /** Starts `cmd` with `args`; stdout and stderr are kept (last 8 kB). */
  constructor(
    cmd: string,
    args: string[],
    options: { env?: Record<string, string>; cwd?: string } = {},
  ) {
    this.#name = cmd;
    this.#child = new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: options.env,
      clearEnv: options.env !== undefined,
      cwd: options.cwd,
    }).spawn();
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        this.#log = (this.#log + chunk).slice(-8192);
      }
    };
    this.#drained = Promise.all([
      collect(this.#child.stdout),
      collect(this.#child.stderr),
    ]).then(() => {});
    this.status = this.#child.status;
  }

  /** The process ID. */
  get pid(): number {
    return this.#child.pid;
  }

  /** The last 8 kB of its output. */
  get log(): string {
    return this.#log;
  }

  /** Sends TERM, then KILL after `graceMs`; resolves once it is gone. */
  async stop(options: { graceMs?: number } = {}): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* already gone */ }
    }, options.graceMs ?? 10_000);
    try {
      const status = await this.status;
      await this.#drained;
      return status;
    } finally {
      clearTimeout(timer);
    }
  }

  /** An error naming the process and carrying its output. */
  error(message: string): Error {
    return new Error(
      `${this.#name}: ${message}\n--- its output ---\n${this.#log}`,
    );
  }
}

/** A running Prometheus on 127.0.0.1. */
export interface Prometheus extends AsyncDisposable {
  /** Its base URL, `http://127.0.0.1:PORT`. */
  url: string;
  /** The process. */
  daemon: Daemon;
  /** Runs an instant query; returns the result vector. */
  query(
    expr: string,
  ): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
}

/**
 * Starts Debian's prometheus on a free loopback port with `config` (YAML
 * text), its storage under `dir`; resolves once it is ready.
 */
export async function startPrometheus(
  dir: string,
  config: string,
): Promise<Prometheus> {
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  await Deno.writeTextFile(`${dir}/prometheus.yml`, config);
  const daemon = new Daemon(PROMETHEUS, [
    `--config.file=${dir}/prometheus.yml`,
    `--storage.tsdb.path=${dir}/tsdb`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--log.level=warn",
  ]);
  let exited: Deno.CommandStatus | undefined;
  daemon.status.then((status) => exited = status);
  try {
    await until("prometheus to be ready", async () => {
      if (exited) {
        throw daemon.error(`exited (${exited.code}) before it was ready`);
      }
      const response = await fetch(`${url}/-/ready`);
      await response.body?.cancel();
      return response.ok;
    }, { timeoutMs: 20_000 });
  } catch (error) {
    await daemon.stop();
    throw error instanceof Error && error.message.includes("its output")
      ? error
      : daemon.error(String(error));
  }
  return {
    url,
    daemon,
    async query(expr) {
      const response = await fetch(
        `${url}/api/v1/query?query=${encodeURIComponent(expr)}`,
      );
      const body = await response.json();
      if (body.status !== "success") {
        throw new Error(
          `prometheus query ${expr} failed: ${JSON.stringify(body)}`,
        );
      }
      return body.data.result;
    },
    async [Symbol.asyncDispose]() {
      await daemon.stop();
    },
  };
}

/**
 * Launches Debian's chromium headless through puppeteer-core (pipe
 * transport, profile under `dir`). Closing the browser ends its processes;
 * the profile goes with `dir`.
 */
export async function launchChromium(dir: string): Promise<Browser> {
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    pipe: true,
    userDataDir: `${dir}/chromium-profile`,
    // Debian's wrapper script and dbus complain harmlessly on stderr.
    dumpio: false,
    args: [
      "--no-sandbox", // root cannot use Chromium's sandbox
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-default-apps",
      "--disable-extensions",
    ],
  });
  return browser;
}

// PIDs of the processes (zombies included) in process group `pgid`.
function processGroup(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      // Fields after the command (which may hold spaces and parentheses):
      // state ppid pgrp ...
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid) pids.push(Number(entry.name));
    } catch { /* gone meanwhile */ }
  }
  return pids;
}

/**
 * Closes `browser` and waits until every process of it is gone: puppeteer
 * starts Chromium in a process group of its own, whose helpers (zygote,
 * renderers, GPU process) outlive the main process for a moment.
 */
export async function closeChromium(browser: Browser): Promise<void> {
  const pid = browser.process()?.pid;
  await browser.close();
  if (!pid) return;
  const closedAt = performance.now();
  await until(`chromium's processes (group ${pid}) to exit`, () => {
    const left = processGroup(pid);
    if (left.length === 0) return true;
    if (left.length > 0 && performance.now() - closedAt > 5_000) {
      for (const child of left) {
        try {
          Deno.kill(child, "SIGKILL");
        } catch { /* gone meanwhile */ }
      }
    }
    return false;
  }, { timeoutMs: 10_000 });
}
