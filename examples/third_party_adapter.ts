/**
 * A third-party adaptor, registered from user code and then discovered and
 * watched exactly like the built-ins. The "toy" engine it talks to is a
 * tiny line protocol on a unix socket that this example serves itself:
 * `ping` → `toy 1.0`, `list` → a JSON array of containers, `events` → `ok`
 * and then one JSON event per line.
 *
 * ```sh
 * deno run -A examples/third_party_adapter.ts
 * ```
 *
 * @module
 */
import {
  type CallOptions,
  type Container,
  type ContainerEvent,
  discoverEngines,
  type EngineClient,
  engineRegistry,
  Fleet,
  newContainer,
  ProcesslessContainerError,
} from "../mod.ts";

// ---- the toy engine (stands for someone's real engine) -------------------

type ToyContainer = { id: string; name: string; pid: number };

function serveToyEngine(path: string) {
  const containers = new Map<string, ToyContainer>();
  const subscribers = new Set<Deno.Conn>();
  const encoder = new TextEncoder();
  const listener = Deno.listen({ transport: "unix", path });
  const serving = (async () => {
    for await (const conn of listener) {
      (async () => {
        const buf = new Uint8Array(64);
        const n = await conn.read(buf);
        const cmd = new TextDecoder().decode(buf.subarray(0, n ?? 0)).trim();
        if (cmd === "events") {
          await conn.write(encoder.encode("ok\n"));
          subscribers.add(conn);
          return; // stays open until the engine or the client ends it
        }
        const answer = cmd === "ping"
          ? "toy 1.0"
          : cmd === "list"
          ? JSON.stringify([...containers.values()])
          : "error";
        await conn.write(encoder.encode(answer + "\n"));
        conn.close();
      })().catch(() => {});
    }
  })();
  const publish = (type: string, c: ToyContainer) => {
    const line = encoder.encode(
      JSON.stringify({ type, id: c.id, time: Date.now() }) + "\n",
    );
    for (const s of subscribers) {
      s.write(line).catch(() => subscribers.delete(s));
    }
  };
  return {
    start(c: ToyContainer) {
      containers.set(c.id, c);
      publish("started", c);
    },
    stop(id: string) {
      const c = containers.get(id);
      if (!c) return;
      containers.delete(id);
      publish("exited", c);
    },
    async close() {
      listener.close();
      for (const s of subscribers) s.close();
      await serving.catch(() => {});
    },
  };
}

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

class ToyClient implements EngineClient {
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
}

// Where the toy engine listens. A real adaptor lists its engine's
// well-known paths here; this example serves one in a temporary folder.
const dir = await Deno.makeTempDir();
const socket = `${dir}/toy.sock`;

engineRegistry.register({
  type: "toy.example",
  create: (endpoint, options) =>
    new ToyClient(endpoint ?? socket, options?.pid),
  probe: async (endpoint) => {
    const answer = await request(endpoint, "ping");
    return answer.startsWith("toy ") ? { version: answer.slice(4) } : null;
  },
  socketPaths: [socket],
  processNames: ["toyd"],
});

// ---- using it, exactly like a built-in ------------------------------------

const engine = serveToyEngine(socket);
engine.start({ id: "t1", name: "first", pid: 101 });

// No endpoint given: discovery tries the adaptor's socket paths. `types`
// keeps this example from probing the machine's other engines.
const { engines } = await discoverEngines({ types: ["toy.example"] });
const found = engines.find((e) => e.type === "toy.example")!;
console.log(
  `discovered ${found.type} ${found.version} at ${found.endpoint} (${found.source})`,
);

// A fleet watches every engine discovery finds, this one included.
const fleet = new Fleet({ types: ["toy.example"] });
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
