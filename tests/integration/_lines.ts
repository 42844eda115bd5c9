// A child process whose stdout (and stderr) a test reads line by line (the
// CLI, the examples), ended with Ctrl-C.

// One stream of a child, read in the background (so the child never blocks
// on a full pipe) and handed out line by line.
class Lines {
  readonly lines: string[] = [];
  #pending: string[] = [];
  #partial = "";
  #done = false;
  #wake: (() => void) | undefined;
  readonly #reader: ReadableStreamDefaultReader<string>;
  readonly #pumping: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
    this.#pumping = this.#pump();
  }

  async #pump(): Promise<void> {
    try {
      while (true) {
        const { value, done } = await this.#reader.read();
        if (done) break;
        const parts = (this.#partial + value).split("\n");
        this.#partial = parts.pop()!;
        this.#pending.push(...parts);
        this.#wake?.();
      }
    } catch {
      // cancelled
    } finally {
      this.#done = true;
      this.#wake?.();
    }
  }

  /**
   * The next line; undefined at the end of the stream, "late" when none came
   * before `deadline` (a `performance.now()` time).
   */
  async next(deadline = Infinity): Promise<string | undefined | "late"> {
    while (this.#pending.length === 0) {
      if (this.#done) return undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = await new Promise<boolean>((resolve) => {
        this.#wake = () => resolve(false);
        if (deadline !== Infinity) {
          timer = setTimeout(
            () => resolve(true),
            Math.max(0, deadline - performance.now()),
          );
        }
      }).finally(() => clearTimeout(timer));
      if (late && this.#pending.length === 0 && !this.#done) return "late";
    }
    const line = this.#pending.shift()!;
    this.lines.push(line);
    return line;
  }

  /** Everything read so far and what is left, as text. */
  async rest(): Promise<string> {
    while (await this.next() !== undefined) {
      // read to the end
    }
    return this.lines.join("\n") + this.#partial;
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
    await this.#pumping;
  }
}

/** A spawned command's stdout and stderr, line by line. */
export class ChildLines implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #out: Lines;
  readonly #err: Lines;
  #status: Promise<Deno.CommandStatus> | undefined;

  /** Spawns `command` (its stdout and stderr piped). */
  constructor(command: Deno.Command) {
    this.#child = command.spawn();
    this.#out = new Lines(this.#child.stdout);
    this.#err = new Lines(this.#child.stderr);
  }

  /** The stdout lines read so far. */
  get lines(): string[] {
    return this.#out.lines;
  }

  /** The stderr lines read so far. */
  get errLines(): string[] {
    return this.#err.lines;
  }

  /**
   * The next stdout line; fails, with what the child printed, when it ended
   * or printed no line within `timeoutMs` (default 30 s).
   */
  next(options: { timeoutMs?: number } = {}): Promise<string> {
    return this.#nextOf(this.#out, "stdout", options.timeoutMs);
  }

  /** The next stderr line; fails like {@linkcode next}. */
  nextErr(options: { timeoutMs?: number } = {}): Promise<string> {
    return this.#nextOf(this.#err, "stderr", options.timeoutMs);
  }

  async #nextOf(
    lines: Lines,
    name: string,
    timeoutMs = 30_000,
  ): Promise<string> {
    const line = await lines.next(performance.now() + timeoutMs);
    if (line === undefined) throw await this.#ended();
    if (line === "late") {
      throw new Error(
        `no ${name} line from the child within ${timeoutMs} ms; so far:\n${
          lines.lines.join("\n")
        }`,
      );
    }
    return line;
  }

  async #ended(): Promise<Error> {
    return new Error(
      `the child ended; stdout:\n${await this.#out
        .rest()}\nstderr:\n${await this
        .#err.rest()}`,
    );
  }

  /** Reads stdout lines until one matches `re`; returns it. */
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
      await this.#out.cancel();
      await this.#err.cancel();
      return status;
    })();
    return this.#status.then((s) => s.code);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.interrupt();
  }
}
