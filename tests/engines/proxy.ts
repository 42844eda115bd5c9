// The tests' one socket proxy: forwards a unix socket or a loopback TCP port
// to an engine's unix socket, byte for byte, and sees each HTTP request as
// it passes, so a test can log, count, hold (a gate), mute (swallow the
// responses of) or answer requests itself.

/** An HTTP request seen by the proxy: its request line. */
export interface ProxyRequest {
  method: string;
  /** The request target, query included. */
  path: string;
}

/** What the proxy does with requests; every hook is optional. */
export interface ProxyHooks {
  /** Sees each request; a returned promise holds it until it settles. */
  onRequest?(request: ProxyRequest): void | Promise<void>;
  /** Sees the first bytes of each response. */
  onResponse?(request: ProxyRequest): void;
  /** Whether this response's bytes are swallowed (right now). */
  mute?(request: ProxyRequest): boolean;
  /**
   * A raw HTTP response to answer this request with, instead of the
   * engine's (the request is not forwarded; for requests without a body).
   */
  reply?(request: ProxyRequest): string | undefined;
}

// Conn.write may write part of the buffer (a peer that reads slowly): the
// rest must follow, or a large response loses bytes and its reader waits.
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) {
    done += await conn.write(bytes.subarray(done));
  }
}

const REQUEST_LINE = /^([A-Z]+) (\S+) HTTP\/1\.[01]\r\n/;

/** A proxy in front of an engine's unix socket. */
export class SocketProxy implements AsyncDisposable {
  /** The unix socket path it listens on, or `tcp://127.0.0.1:PORT`. */
  readonly address: string;
  /** Every request seen, in order. */
  readonly requests: ProxyRequest[] = [];
  readonly #listener: Deno.Listener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #serving: Promise<void>;
  readonly #closed = Promise.withResolvers<void>();

  /** Listens on `listen.path`, or on a free loopback TCP port. */
  constructor(
    target: string,
    listen: { path: string } | { tcp: true },
    hooks: ProxyHooks = {},
  ) {
    const listener: Deno.Listener = "path" in listen
      ? Deno.listen({ transport: "unix", path: listen.path })
      : Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#listener = listener;
    this.address = "path" in listen
      ? listen.path
      : `tcp://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
    this.#serving = (async () => {
      const served: Promise<void>[] = [];
      try {
        for await (const client of listener) {
          served.push(this.#serve(client, target, hooks));
        }
      } catch {
        // listener closed
      }
      await Promise.allSettled(served);
    })();
  }

  async #serve(client: Deno.Conn, target: string, hooks: ProxyHooks) {
    this.#conns.add(client);
    let server: Deno.Conn;
    try {
      server = await Deno.connect({ transport: "unix", path: target });
    } catch {
      this.#drop(client);
      return;
    }
    this.#conns.add(server);
    // The request in flight on this connection, and whether its response
    // started.
    let current: ProxyRequest | undefined;
    let answered = true;
    const up = async () => {
      const buf = new Uint8Array(64 * 1024);
      while (true) {
        const n = await client.read(buf);
        if (n === null) break;
        const chunk = buf.slice(0, n);
        const line = REQUEST_LINE.exec(
          new TextDecoder().decode(chunk.subarray(0, 2048)),
        );
        if (line) {
          const request = { method: line[1], path: line[2] };
          current = request;
          answered = false;
          this.requests.push(request);
          // Held until the hook settles, or the proxy closes.
          await Promise.race([
            hooks.onRequest?.(request),
            this.#closed.promise,
          ]);
          const reply = hooks.reply?.(request);
          if (reply !== undefined) {
            answered = true;
            await writeAll(client, new TextEncoder().encode(reply));
            continue;
          }
        }
        await writeAll(server, chunk);
      }
    };
    const down = async () => {
      const buf = new Uint8Array(64 * 1024);
      while (true) {
        const n = await server.read(buf);
        if (n === null) break;
        if (current && !answered) {
          answered = true;
          hooks.onResponse?.(current);
        }
        if (current && hooks.mute?.(current)) continue;
        await writeAll(client, buf.subarray(0, n));
      }
    };
    // Either side ending ends both.
    await Promise.allSettled([
      up().finally(() => this.#drop(client, server)),
      down().finally(() => this.#drop(client, server)),
    ]);
  }

  #drop(...conns: Deno.Conn[]) {
    for (const c of conns) {
      if (!this.#conns.delete(c)) continue;
      try {
        c.close();
      } catch {
        // already closed
      }
    }
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    this.#closed.resolve();
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    this.#drop(...this.#conns);
    await this.#serving;
    if (!this.address.startsWith("tcp://")) {
      await Deno.remove(this.address).catch(() => {});
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A gate for held requests: shut, requests wait; open, they pass. */
export class Gate {
  #open = Promise.withResolvers<void>();
  #isOpen = false;

  /** Resolves when the gate is open. */
  passed(): Promise<void> {
    return this.#open.promise;
  }

  /** Lets every held and later request through. */
  open(): void {
    this.#isOpen = true;
    this.#open.resolve();
  }

  /** Holds later requests again. */
  shut(): void {
    if (!this.#isOpen) return;
    this.#isOpen = false;
    this.#open = Promise.withResolvers<void>();
  }
}
