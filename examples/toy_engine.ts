/**
 * A toy container engine for the third-party adaptor example: a tiny line
 * protocol on a unix socket. `ping` → `toy 1.0`, `list` → a JSON array of
 * containers, `events` → `ok` and then one JSON event per line. It stands
 * for someone's real engine.
 *
 * ```sh
 * deno run -A examples/toy_engine.ts /tmp/toy.sock   # serves until Ctrl-C
 * ```
 *
 * @module
 */

/** A container of the toy engine. */
export type ToyContainer = { id: string; name: string; pid: number };

/** A running toy engine. */
export interface ToyEngine {
  /** Starts a container (and tells the subscribers). */
  start(c: ToyContainer): void;
  /** Stops a container (and tells the subscribers). */
  stop(id: string): void;
  /** Stops serving. */
  close(): Promise<void>;
}

/** Serves a toy engine on the unix socket `path`. */
export function serveToyEngine(path: string): ToyEngine {
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

if (import.meta.main) {
  const path = Deno.args[0];
  if (!path) throw new Error("usage: toy_engine.ts SOCKET_PATH");
  const engine = serveToyEngine(path);
  engine.start({ id: "t1", name: "first", pid: 101 });
  engine.start({ id: "t2", name: "second", pid: 102 });
  console.log(`toy engine serving on ${path}`);
  const stop = () => engine.close().then(() => Deno.exit(0));
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
}
