/**
 * A third-party adaptor: importing this module registers it (engine type
 * `"toy.example"`), and from then on discovery, fleets, `createWatcher` and
 * the CLI treat its engines like the built-ins. It talks to the toy engine
 * of `toy_engine.ts` (a tiny line protocol on a unix socket) and declares
 * where that engine is found: the `TOY_ENGINE_SOCKET` environment variable
 * (honoured by its `create` too) and a well-known path.
 *
 * ```sh
 * deno run -A examples/third_party_adapter.ts           # the demo below
 * deno run -A examples/toy_engine.ts /tmp/toy.sock &     # an engine, then:
 * TOY_ENGINE_SOCKET=/tmp/toy.sock deno task watch --adapter examples/third_party_adapter.ts
 * ```
 *
 * @module
 */
import {
  type CallOptions,
  type Container,
  type ContainerEvent,
  discoverEngines,
  type EngineAdapter,
  type EngineClient,
  type EngineOptions,
  engineRegistry,
  Fleet,
  newContainer,
  ProcesslessContainerError,
} from "../mod.ts";
import { serveToyEngine, type ToyContainer } from "./toy_engine.ts";

// ---- the adaptor: this is what a third party writes ----------------------

async function request(path: string, cmd: string): Promise<string> {
  const conn = await Deno.connect({ transport: "unix", path });
  try {
    await conn.write(new TextEncoder().encode(cmd + "\n"));
    let text = "";
    for await (
      const chunk of conn.readable.pipeThrough(new TextDecoderStream())
    ) {
      text += chunk;
    }
    return text.trim();
  } catch (err) {
    conn.close();
    throw err;
  }
}

class ToyClient implements EngineClient, AsyncDisposable {
  readonly type = "toy.example";
  readonly pid: number;
  readonly client = null;
  #conns = new Set<Deno.Conn>();

  constructor(readonly api: string, pid = 0) {
    this.pid = pid;
  }

  async list(): Promise<Container[]> {
    const raw = JSON.parse(await request(this.api, "list")) as ToyContainer[];
    return raw.map((c) => newContainer(c));
  }

  async inspect(nameOrId: string): Promise<Container> {
    const c = (await this.list()).find((c) =>
      c.id === nameOrId || c.name === nameOrId
    );
    if (!c) {
      throw new ProcesslessContainerError(nameOrId, { engine: this.type });
    }
    return c;
  }

  async lifecycleEvents(
    options: CallOptions = {},
  ): Promise<AsyncIterable<ContainerEvent>> {
    const conn = await Deno.connect({ transport: "unix", path: this.api });
    this.#conns.add(conn);
    await conn.write(new TextEncoder().encode("events\n"));
    const lines = conn.readable.pipeThrough(new TextDecoderStream());
    const reader = lines.getReader();
    const onAbort = () => reader.cancel().catch(() => {});
    options.signal?.addEventListener("abort", onAbort, { once: true });
    let buffer = "";
    const readLine = async (): Promise<string | undefined> => {
      while (!buffer.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) return undefined;
        buffer += value;
      }
      const i = buffer.indexOf("\n");
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      return line;
    };
    if (await readLine() !== "ok") {
      throw new Error(`toy engine "${this.api}" refused events`);
    }
    const conns = this.#conns;
    return (async function* () {
      try {
        while (true) {
          const line = await readLine();
          if (line === undefined) {
            if (options.signal?.aborted) return;
            throw new Error("toy engine event stream lost");
          }
          const e = JSON.parse(line);
          yield { type: e.type, id: e.id, project: "", timestamp: e.time };
        }
      } finally {
        options.signal?.removeEventListener("abort", onAbort);
        await reader.cancel().catch(() => {});
        conns.delete(conn);
      }
    })();
  }

  id(): Promise<string> {
    return Promise.resolve(this.api);
  }

  async version(): Promise<string> {
    return (await request(this.api, "ping")).replace(/^toy /, "");
  }

  close(): Promise<void> {
    for (const c of this.#conns) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
    this.#conns.clear();
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The environment variable naming the toy engine's socket. */
export const TOY_ENGINE_ENV = "TOY_ENGINE_SOCKET";

/** Where a toy engine usually listens. */
export const TOY_ENGINE_SOCKET = "/run/toy/toy.sock";

function envSocket(): string | undefined {
  try {
    return Deno.env.get(TOY_ENGINE_ENV) || undefined;
  } catch {
    return undefined;
  }
}

/** The toy engine's adaptor, registered under `"toy.example"`. */
export const toyAdapter: EngineAdapter<EngineOptions> = {
  type: "toy.example",
  create: (endpoint, options) =>
    new ToyClient(endpoint ?? envSocket() ?? TOY_ENGINE_SOCKET, options?.pid),
  probe: async (endpoint) => {
    const answer = await request(endpoint, "ping");
    return answer.startsWith("toy ") ? { version: answer.slice(4) } : null;
  },
  socketPaths: [TOY_ENGINE_SOCKET],
  processNames: ["toyd"],
  envVars: [TOY_ENGINE_ENV],
};

if (!engineRegistry.has(toyAdapter.type)) engineRegistry.register(toyAdapter);

// ---- using it, exactly like a built-in ------------------------------------

async function demo(): Promise<void> {
  const dir = await Deno.makeTempDir();
  const socket = `${dir}/toy.sock`;
  const engine = serveToyEngine(socket);
  engine.start({ id: "t1", name: "first", pid: 101 });
  // No endpoint given: discovery tries the adaptor's hints, here its
  // environment variable. `types` keeps this example from probing the
  // machine's other engines.
  const env = (name: string) => name === TOY_ENGINE_ENV ? socket : undefined;
  const { engines } = await discoverEngines({ types: ["toy.example"], env });
  const found = engines.find((e) => e.type === "toy.example")!;
  console.log(
    `discovered ${found.type} ${found.version} at ${found.endpoint} (${found.source})`,
  );

  // A fleet watches every engine discovery finds, this one included.
  const fleet = new Fleet({ types: ["toy.example"], env });
  const events = fleet.events();
  await fleet.ready;
  console.log(
    "containers:",
    fleet.containers().map(({ container: c }) => `${c.name} pid=${c.pid}`)
      .join(", "),
  );

  engine.start({ id: "t2", name: "second", pid: 102 });
  engine.stop("t1");
  // The subscription began before the first sync: it opens with "started
  // first". The exit may overtake the start, whose details are still being
  // asked for.
  const awaited = new Set(["started t2", "exited t1"]);
  for await (const e of events) {
    console.log(
      `${e.type} ${e.container.name} pid=${e.container.pid} (${e.engine.type})`,
    );
    awaited.delete(`${e.type} ${e.id}`);
    if (awaited.size === 0) break;
  }

  await fleet.close();
  await engine.close();
  await Deno.remove(dir, { recursive: true });
}

if (import.meta.main) await demo();
