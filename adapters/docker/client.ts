/**
 * The Docker engine client (also serving podman's Docker-compatible API),
 * built on dockerode.
 *
 * @module
 */

import Docker from "dockerode";
import {
  type CallOptions,
  type Container,
  type ContainerEvent,
  type EngineClient,
  type EngineOptions,
  isProcesslessContainerError,
  ProcesslessContainerError,
  type RucksackPacker,
} from "../../engineclient/mod.ts";
import { EVENT_ACTIONS, EventLineDecoder } from "./_event_decoder.ts";
import { containerFromInspection, type Inspection } from "./_inspection.ts";
import { type DockerEndpoint, parseDockerEndpoint } from "./endpoint.ts";

export { PRIVILEGED_LABEL } from "./_inspection.ts";

/**
 * Options of {@linkcode DockerClient}.
 *
 * @example
 * ```ts
 * import type { DockerOptions } from "@whalewatcher/whalewatcher/docker";
 * const options: DockerOptions = { inspectConcurrency: 16 };
 * ```
 */
export interface DockerOptions extends EngineOptions {
  /** How many containers `list` inspects at once; default 8. */
  inspectConcurrency?: number;
  /** Picks extra data out of Docker's inspection for each container. */
  packer?: RucksackPacker;
  /**
   * Whether exit/pause events carry the compose label reliably; podman's
   * may not, then their project is resolved by the watcher. Default: true
   * unless the type is `"podman.io"`.
   */
  eventsHaveLabels?: boolean;
}

function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number })?.statusCode;
}

// docker-modem formats every request's options with util.inspect (for its
// debug log, even when off); Deno's inspection of an AbortSignal costs
// ~0.15 ms, a third of an inspect round trip. So each call gets its own
// signal, linked to the caller's, that inspects cheaply.
const INSPECT_SYMBOLS = [
  Symbol.for("Deno.privateCustomInspect"),
  Symbol.for("Deno.customInspect"),
  Symbol.for("nodejs.util.inspect.custom"),
];

// Linked to the caller's signal and to the client's own (aborted by close()).
function linkedSignal(
  ...outers: (AbortSignal | undefined)[]
): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const signal = controller.signal;
  for (const symbol of INSPECT_SYMBOLS) {
    Object.defineProperty(signal, symbol, { value: () => "AbortSignal" });
  }
  const links: [AbortSignal, () => void][] = [];
  const dispose = () => {
    for (const [outer, onAbort] of links) {
      outer.removeEventListener("abort", onAbort);
    }
  };
  for (const outer of outers) {
    if (!outer) continue;
    if (outer.aborted) {
      dispose();
      controller.abort(outer.reason);
      return { signal, dispose: () => {} };
    }
    const onAbort = () => controller.abort(outer.reason);
    outer.addEventListener("abort", onAbort, { once: true });
    links.push([outer, onAbort]);
  }
  return { signal, dispose };
}

function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}

/**
 * An {@linkcode EngineClient} for Docker's API (dockerd, and podman's
 * Docker-compatible service), registered as `"docker.com"`.
 *
 * @example
 * ```ts ignore
 * import { DockerClient } from "@whalewatcher/whalewatcher/docker";
 * const docker = new DockerClient("/run/docker.sock");
 * console.log(await docker.list());
 * await docker.close();
 * ```
 */
export class DockerClient implements EngineClient {
  /** Engine type: `"docker.com"` unless overridden (e.g. `"podman.io"`). */
  readonly type: string;
  /** The endpoint: socket path or URL. */
  readonly api: string;
  /** PID of the engine process when known, else 0. */
  readonly pid: number;
  /** The dockerode client. */
  readonly client: Docker;
  /** Event lines skipped as malformed or unexpected. */
  get skippedEvents(): number {
    return this.#skipped;
  }

  #endpoint: DockerEndpoint;
  #concurrency: number;
  #packer?: RucksackPacker;
  #eventsHaveLabels: boolean;
  #info?: Promise<{ ID?: string; ServerVersion?: string }>;
  #skipped = 0;
  #closed = false;
  // Aborted by close(): ends calls still in flight.
  #closer = new AbortController();
  #streams = new Set<AbortController>();

  /** Makes a client for `endpoint` (default `DOCKER_HOST` or the default socket). */
  constructor(endpoint?: string, options: DockerOptions = {}) {
    this.#endpoint = parseDockerEndpoint(endpoint);
    this.api = this.#endpoint.api;
    this.type = options.type ?? "docker.com";
    this.pid = options.pid ?? 0;
    this.#concurrency = Math.max(1, options.inspectConcurrency ?? 8);
    this.#packer = options.packer;
    this.#eventsHaveLabels = options.eventsHaveLabels ??
      (this.type !== "podman.io");
    const ep = this.#endpoint;
    this.client = new Docker({
      socketPath: ep.socketPath,
      host: ep.host,
      port: ep.port,
      protocol: ep.protocol,
      ca: ep.ca,
      cert: ep.cert,
      key: ep.key,
    } as Docker.DockerOptions);
  }

  /** Lists running and paused containers, inspecting them concurrently. */
  async list(options: CallOptions = {}): Promise<Container[]> {
    this.#assertOpen();
    const linked = linkedSignal(options.signal, this.#closer.signal);
    try {
      return await this.#list(linked.signal);
    } finally {
      linked.dispose();
    }
  }

  async #list(signal: AbortSignal): Promise<Container[]> {
    let summaries: Docker.ContainerInfo[];
    try {
      // abortable(): a request to a frozen engine may ignore the signal.
      summaries = await abortable(
        this.client.listContainers({
          filters: { status: ["running", "paused"] },
          abortSignal: signal,
        } as Docker.ContainerListOptions),
        signal,
      );
    } catch (err) {
      throw this.#fail("cannot list containers", err, signal);
    }
    const result: (Container | undefined)[] = new Array(summaries.length);
    let next = 0;
    const worker = async () => {
      while (next < summaries.length) {
        const i = next++;
        try {
          result[i] = await this.#inspect(summaries[i].Id, signal);
        } catch (err) {
          if (!isProcesslessContainerError(err)) throw err;
        }
      }
    };
    const workers = [];
    for (let w = 0; w < Math.min(this.#concurrency, summaries.length); w++) {
      workers.push(worker());
    }
    await Promise.all(workers);
    return result.filter((c): c is Container => c !== undefined);
  }

  /** Inspects one container by name or ID. */
  async inspect(
    nameOrId: string,
    options: CallOptions = {},
  ): Promise<Container> {
    this.#assertOpen();
    const linked = linkedSignal(options.signal, this.#closer.signal);
    try {
      return await this.#inspect(nameOrId, linked.signal);
    } finally {
      linked.dispose();
    }
  }

  async #inspect(nameOrId: string, signal: AbortSignal): Promise<Container> {
    let inspection: Inspection;
    try {
      inspection = await abortable(
        this.client.getContainer(nameOrId).inspect(
          { abortSignal: signal } as Docker.ContainerInspectOptions,
        ),
        signal,
      ) as Inspection;
    } catch (err) {
      if (statusOf(err) === 404) {
        throw new ProcesslessContainerError(nameOrId, {
          engine: this.type,
          cause: err,
        });
      }
      throw this.#fail(`cannot inspect container "${nameOrId}"`, err, signal);
    }
    return containerFromInspection(nameOrId, inspection, {
      engine: this.type,
      packer: this.#packer,
    });
  }

  /** Subscribes to container start, die, pause and unpause events. */
  async lifecycleEvents(
    options: CallOptions = {},
  ): Promise<AsyncIterable<ContainerEvent>> {
    this.#assertOpen();
    const outer = options.signal;
    const controller = new AbortController();
    const onOuterAbort = () => controller.abort(outer?.reason);
    if (outer?.aborted) throw outer.reason;
    outer?.addEventListener("abort", onOuterAbort, { once: true });
    this.#streams.add(controller);
    const cleanup = () => {
      outer?.removeEventListener("abort", onOuterAbort);
      this.#streams.delete(controller);
    };
    let stream: NodeJS.ReadableStream;
    try {
      stream = await abortable(
        this.client.getEvents({
          filters: { type: ["container"], event: [...EVENT_ACTIONS] },
          abortSignal: controller.signal,
        } as Docker.GetEventsOptions) as Promise<NodeJS.ReadableStream>,
        controller.signal,
      );
    } catch (err) {
      cleanup();
      throw this.#fail("cannot subscribe to events", err, controller.signal);
    }
    const decoder = new EventLineDecoder({
      projectFromLabels: this.#eventsHaveLabels,
    });
    const queue: ContainerEvent[] = [];
    let head = 0;
    let failure: unknown;
    let done = false;
    let wake: (() => void) | undefined;
    const notify = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const finish = (err?: unknown) => {
      if (done) return;
      done = true;
      // An abort (ours or the caller's) ends quietly; anything else is loss.
      if (!controller.signal.aborted) {
        failure = err ??
          new Error(`docker event stream of "${this.api}" ended`);
      }
      this.#skipped += decoder.skipped;
      decoder.skipped = 0;
      cleanup();
      notify();
    };
    stream.on("data", (chunk: Uint8Array | string) => {
      if (done) return;
      const before = decoder.skipped;
      for (const e of decoder.push(chunk)) queue.push(e);
      if (decoder.skipped !== before) {
        this.#skipped += decoder.skipped;
        decoder.skipped = 0;
      }
      notify();
    });
    stream.on("error", (err: Error) => finish(err));
    stream.on("end", () => finish());
    stream.on("close", () => finish());
    controller.signal.addEventListener("abort", () => {
      (stream as unknown as { destroy?: () => void }).destroy?.();
      finish();
    }, { once: true });

    const api = this.api;
    const iterator: AsyncIterableIterator<ContainerEvent> = {
      async next(): Promise<IteratorResult<ContainerEvent>> {
        while (true) {
          if (head < queue.length) {
            const value = queue[head++];
            if (head > 1024 && head * 2 > queue.length) {
              queue.splice(0, head);
              head = 0;
            }
            return { value, done: false };
          }
          if (done) {
            if (failure !== undefined) {
              const err = failure;
              failure = undefined;
              throw new Error(
                `lost the docker event stream of "${api}": ${
                  (err as Error)?.message ?? err
                }`,
                { cause: err },
              );
            }
            return { value: undefined, done: true };
          }
          await new Promise<void>((resolve) => wake = resolve);
        }
      },
      return(): Promise<IteratorResult<ContainerEvent>> {
        controller.abort();
        queue.length = 0;
        head = 0;
        failure = undefined;
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
    return iterator;
  }

  #engineInfo(
    signal?: AbortSignal,
  ): Promise<{ ID?: string; ServerVersion?: string }> {
    if (this.#closed) return Promise.reject(this.#closedError());
    // One shared request (cached once answered), ended only by close().
    const info = this.#info ?? this.client.info(
      { abortSignal: this.#closer.signal } as Record<string, unknown>,
    ).catch((err: unknown) => {
      this.#info = undefined;
      throw this.#fail("cannot read engine info", err, this.#closer.signal);
    });
    this.#info = info;
    return abortable(info, signal);
  }

  /** The engine's ID (Docker's `/info` ID). */
  async id(options: CallOptions = {}): Promise<string> {
    return (await this.#engineInfo(options.signal)).ID ?? "";
  }

  /** The engine's version (Docker's `/info` ServerVersion). */
  async version(options: CallOptions = {}): Promise<string> {
    return (await this.#engineInfo(options.signal)).ServerVersion ?? "";
  }

  /**
   * Ends every event stream and call in flight (they reject with a "closed"
   * error); later calls reject too. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    const reason = this.#closedError();
    this.#closer.abort(reason);
    for (const c of this.#streams) c.abort(reason);
    this.#streams.clear();
    return Promise.resolve();
  }

  #closedError(): Error {
    return new Error(`docker client for "${this.api}" is closed`);
  }

  #assertOpen(): void {
    if (this.#closed) throw this.#closedError();
  }

  #fail(what: string, err: unknown, signal?: AbortSignal): unknown {
    if (signal?.aborted) return signal.reason;
    const message = (err as Error)?.message ?? String(err);
    return new Error(`${what} of docker engine "${this.api}": ${message}`, {
      cause: err,
    });
  }
}
