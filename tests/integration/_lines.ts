// A child process whose stdout a test reads line by line (the CLI, the
// examples), ended with Ctrl-C.

/** A spawned command's stdout, line by line. */
export class ChildLines implements AsyncDisposable {
  /** The lines read so far. */
  readonly lines: string[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #reader: ReadableStreamDefaultReader<string>;
  readonly #stderr: Promise<string>;
  #buffer = "";
  #status: Promise<Deno.CommandStatus> | undefined;
  #pending: Promise<ReadableStreamReadResult<string>> | undefined;

  /** Spawns `command` (its stdout and stderr piped). */
  constructor(command: Deno.Command) {
    this.#child = command.spawn();
    this.#reader = this.#child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    this.#stderr = new Response(this.#child.stderr).text();
  }

  /**
   * The next line; fails, with what the child printed, when it ended or
   * printed no line within `timeoutMs` (default 30 s).
   */
  async next(options: { timeoutMs?: number } = {}): Promise<string> {
    const limit = options.timeoutMs ?? 30_000;
    const deadline = performance.now() + limit;
    while (!this.#buffer.includes("\n")) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(
          () => resolve("late"),
          Math.max(0, deadline - performance.now()),
        );
      });
      // A read that lost the race stays pending and gets the next chunk.
      this.#pending ??= this.#reader.read();
      const got = await Promise.race([this.#pending, late]).finally(() =>
        clearTimeout(timer)
      );
      if (got === "late") {
        throw new Error(
          `no line from the child within ${limit} ms; stdout so far:\n${
            this.lines.join("\n")
          }${this.#buffer}`,
        );
      }
      this.#pending = undefined;
      const { value, done } = got;
      if (done) {
        throw new Error(
          `the child ended; stdout:\n${
            this.lines.join("\n")
          }${this.#buffer}\nstderr:\n${await this
            .#stderr}`,
        );
      }
      this.#buffer += value;
    }
    const i = this.#buffer.indexOf("\n");
    const line = this.#buffer.slice(0, i);
    this.#buffer = this.#buffer.slice(i + 1);
    this.lines.push(line);
    return line;
  }

  /** Reads lines until one matches `re`; returns it. */
  async until(re: RegExp): Promise<string> {
    while (true) {
      const line = await this.next();
      if (re.test(line)) return line;
    }
  }

  /** Ctrl-C (once), then the exit code. */
  interrupt(): Promise<number> {
    this.#status ??= (async () => {
      try {
        this.#child.kill("SIGINT");
      } catch {
        // already gone
      }
      const status = await this.#child.status;
      await this.#reader.cancel().catch(() => {});
      await this.#stderr;
      return status;
    })();
    return this.#status.then((s) => s.code);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.interrupt();
  }
}
