// Shared pieces of the scale benchmarks (internal): statistics, /proc
// readings of CPU time and memory, child processes that talk in JSON
// lines, and the checkout under test (this one, or another for a
// before/after run). Light: child scripts import it too.

/** The median of `xs`. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** The `p` quantile (0..1) of `xs`. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
}

const CLK_TCK = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Resident memory of a process, in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

/** Settles like `promise`, or fails after `ms` naming `what`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${what}`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Megabytes, for printing. */
export function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/**
 * The root URL (ending in `/`) of the checkout under test: `path` (another
 * checkout, e.g. `git worktree add /tmp/before main`) or this one.
 */
export function checkoutRoot(path?: string): string {
  if (!path) return new URL("../../", import.meta.url).href;
  return new URL(path.replace(/\/?$/, "/"), `file://${Deno.cwd()}/`).href;
}

/** A child process that prints one JSON object per line. */
export class JsonChild {
  readonly process: Deno.ChildProcess;
  #lines: AsyncIterator<string>;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;

  constructor(command: string, args: string[], options: Deno.CommandOptions) {
    this.process = new Deno.Command(command, {
      ...options,
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#lines = lines(this.process.stdout)[Symbol.asyncIterator]();
    this.#stdin = this.process.stdin.getWriter();
  }

  /** PID of the child. */
  get pid(): number {
    return this.process.pid;
  }

  /** The next JSON line the child prints. */
  async next<T = Record<string, unknown>>(): Promise<T> {
    const r = await this.#lines.next();
    if (r.done) throw new Error("the child ended without an answer");
    return JSON.parse(r.value);
  }

  /** Sends one line to the child. */
  async send(line: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(line + "\n"));
  }

  /** Closes its stdin (the child's signal to finish) and waits for its end. */
  async finish(): Promise<Deno.CommandStatus> {
    await this.#stdin.close().catch(() => {});
    // Read what is left so that the pipe closes.
    while (!(await this.#lines.next()).done) { /* drained */ }
    return await this.process.status;
  }
}

/** The lines of a byte stream. */
export async function* lines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<string> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let i;
    while ((i = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
    }
  }
  if (buffer) yield buffer;
}

/** Lines from stdin, for child scripts. */
export function stdinLines(): AsyncGenerator<string> {
  return lines(Deno.stdin.readable);
}

/**
 * The arguments `deno task watch` runs the CLI with in the checkout at
 * `root` (its permission flags and entry point), `$INIT_CWD` expanded.
 */
export function watchTaskArgs(root: string): string[] {
  const path = new URL(root).pathname;
  const config = JSON.parse(Deno.readTextFileSync(`${path}deno.json`));
  const words = (config.tasks.watch as string).split(/\s+/);
  return [
    "run",
    ...words.filter((w) => w.startsWith("--allow-"))
      .map((w) => w.replaceAll("$INIT_CWD", path)),
    `${path}cli/mod.ts`,
  ];
}

/** Prints the machine's load average: the figures above depend on it. */
export function printLoadAverage(): void {
  console.log(
    `   load average: ${Deno.loadavg().map((l) => l.toFixed(1)).join(" ")}`,
  );
}
