/**
 * The Docker engine client (also serving podman's Docker-compatible API),
 * built on dockerode.
 *
 * @module
 */

import * as http from "node:http";
import * as https from "node:https";
import Docker from "dockerode";
import {
  type CallOptions,
  ClientClosedError,
  type Container,
  type ContainerEvent,
  type ContainerSummary,
  type EngineClient,
  type EngineStats,
  EventStreamEndedError,
  isProcesslessContainerError,
  type Preflighter,
  ProcesslessContainerError,
  type RucksackPacker,
  type SummaryLister,
} from "../../engineclient/mod.ts";
import { abortable, AsyncQueue, mapPool } from "../../engineclient/_async.ts";
import {
  assertSocketAccess,
  connectFailure,
} from "../../engineclient/_failures.ts";
import { EVENT_ACTIONS, EventLineDecoder } from "./_event_decoder.ts";
import { containerFromInspection, type Inspection } from "./_inspection.ts";
import {
  type DockerEndpoint,
  type DockerSshOptions,
  parseDockerEndpoint,
} from "./endpoint.ts";
import { checkDocker } from "./probe.ts";
import { prepareSsh, sshAgent, type SshSetup } from "./_ssh.ts";
import type { DockerOptions } from "./options.ts";

export type { DockerOptions } from "./options.ts";

export { PRIVILEGED_LABEL } from "./_inspection.ts";

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

/**
 * An {@linkcode EngineClient} for Docker's API (dockerd, and podman's
 * Docker-compatible service), registered as `"docker.com"`: on a unix
 * socket, `tcp://` (TLS from the `tls` option or `DOCKER_CERT_PATH` /
 * `DOCKER_TLS_VERIFY`) or `ssh://` (keys from the agent or the `ssh`
 * option, host keys checked against known_hosts).
 *
 * @example
 * ```ts ignore
 * import { DockerClient } from "@whalewatcher/whalewatcher/docker";
 * await using docker = new DockerClient("/run/docker.sock");
 * console.log(await docker.list());
 * ```
 */
export class DockerClient
  implements EngineClient, Preflighter, SummaryLister, AsyncDisposable {
  /** Engine type: `"docker.com"` unless overridden (e.g. `"podman.io"`). */
  readonly type: string;
  /** The endpoint: socket path or URL. */
  readonly api: string;
  /** PID of the engine process when known, else 0. */
  readonly pid: number;
  /** The dockerode client. */
  readonly client: Docker;
  /** Counters of API calls and events. */
  readonly stats: EngineStats = { calls: 0, events: 0, skippedEvents: 0 };

  #endpoint: DockerEndpoint;
  #concurrency: number;
  #packer?: RucksackPacker;
  #eventsHaveLabels: boolean;
  #info?: Promise<{ ID?: string; ServerVersion?: string }>;
  #closed = false;
  #accessChecked = false;
  #sshOptions: DockerSshOptions;
  #ssh?: SshSetup;
  // Aborted by close(): ends calls still in flight.
  #closer = new AbortController();

  /** Makes a client for `endpoint` (default `DOCKER_HOST`, else the default socket). */
  constructor(endpoint?: string, options: DockerOptions = {}) {
    this.#endpoint = parseDockerEndpoint(endpoint, { tls: options.tls });
    this.api = this.#endpoint.api;
    this.type = options.type ?? "docker.com";
    this.pid = options.pid ?? 0;
    this.#concurrency = Math.max(1, options.concurrency ?? 8);
    this.#packer = options.packer;
    this.#eventsHaveLabels = options.eventsHaveLabels ??
      (this.type !== "podman.io");
    this.#sshOptions = options.ssh ?? {};
    const ep = this.#endpoint;
    if (ep.protocol === "ssh") {
      // Our own SSH agent (dial-stdio or socket forwarding), with the keys
      // and known hosts loaded at the first call (typed errors then reject
      // it): plain HTTP over each SSH channel.
      this.client = new Docker({
        host: ep.host,
        port: ep.port,
        protocol: "http",
        agent: this.#sshAgent(),
      } as Docker.DockerOptions);
      return;
    }
    this.client = new Docker({
      socketPath: ep.socketPath,
      host: ep.host,
      port: ep.port,
      protocol: ep.protocol,
      ca: ep.ca,
      cert: ep.cert,
      key: ep.key,
      ...(ep.verify === false
        ? { agent: new https.Agent({ rejectUnauthorized: false }) }
        : {}),
    } as Docker.DockerOptions);
  }

  // An agent of SSH connections to the host (dial-stdio, or forwarding to
  // the remote socket), with the SSH settings loaded by the first call.
  #sshAgent(): http.Agent {
    const agent = new http.Agent({ keepAlive: false });
    (agent as unknown as { createConnection: unknown }).createConnection = (
      ...args: unknown[]
    ) => {
      const inner = sshAgent(this.#endpoint, this.#ssh!);
      return (inner as unknown as {
        createConnection: (...a: unknown[]) => unknown;
      }).createConnection(...args);
    };
    return agent;
  }

  /**
   * Checks that a Docker API of a supported version answers (`GET /_ping`);
   * rejects with the contract's typed errors when it cannot be reached
   * (`EngineNotFoundError`, `EnginePermissionError`), is something else
   * (`NotAnEngineError`) or is too old (`EngineTooOldError`).
   */
  async preflight(options: CallOptions = {}): Promise<void> {
    this.#assertOpen();
    const linked = linkedSignal(options.signal, this.#closer.signal);
    try {
      this.stats.calls++;
      await abortable(
        checkDocker(this.#endpoint, {
          signal: linked.signal,
          engine: this.type,
          ssh: this.#ssh,
        }),
        linked.signal,
      );
    } finally {
      linked.dispose();
    }
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

  /**
   * Lists running and paused containers as summaries: one
   * `/containers/json` call, no inspection (Docker's list has no PID).
   */
  async listSummaries(options: CallOptions = {}): Promise<ContainerSummary[]> {
    this.#assertOpen();
    const linked = linkedSignal(options.signal, this.#closer.signal);
    try {
      return (await this.#listJson(linked.signal)).map((c) => ({
        id: c.Id,
        paused: c.State === "paused",
      }));
    } finally {
      linked.dispose();
    }
  }

  // GET /containers/json of the running and paused containers.
  async #listJson(signal: AbortSignal): Promise<Docker.ContainerInfo[]> {
    try {
      this.stats.calls++;
      // abortable(): a request to a frozen engine may ignore the signal.
      return await abortable(
        this.client.listContainers({
          filters: { status: ["running", "paused"] },
          abortSignal: signal,
        } as Docker.ContainerListOptions),
        signal,
      );
    } catch (err) {
      throw this.#fail("cannot list containers", err, signal);
    }
  }

  async #list(signal: AbortSignal): Promise<Container[]> {
    const summaries = await this.#listJson(signal);
    // The pool stops at the first failure (and on close): the remaining
    // containers are not inspected for a list that failed anyway.
    const found = await mapPool(summaries, async (summary, poolSignal) => {
      try {
        return await this.#inspect(summary.Id, poolSignal);
      } catch (err) {
        if (isProcesslessContainerError(err)) return undefined;
        throw err;
      }
    }, { concurrency: this.#concurrency, signal });
    return found.filter((c): c is Container => c !== undefined);
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
      this.stats.calls++;
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

  /**
   * Subscribes to container start, die, pause and unpause events; resolves
   * once dockerd answered the request (it then sends every later event).
   */
  async lifecycleEvents(
    options: CallOptions = {},
  ): Promise<AsyncIterable<ContainerEvent>> {
    this.#assertOpen();
    const linked = linkedSignal(options.signal, this.#closer.signal);
    let stream: NodeJS.ReadableStream;
    try {
      this.stats.calls++;
      stream = await abortable(
        this.client.getEvents({
          filters: { type: ["container"], event: [...EVENT_ACTIONS] },
          abortSignal: linked.signal,
        } as Docker.GetEventsOptions) as Promise<NodeJS.ReadableStream>,
        linked.signal,
      );
    } catch (err) {
      linked.dispose();
      throw this.#fail("cannot subscribe to events", err, linked.signal);
    }
    return this.#eventQueue(stream, linked);
  }

  // Feeds the decoded events of `stream` into a queue; the queue ends
  // quietly on abort (ours or the caller's) and with an
  // EventStreamEndedError when the stream fails or ends by itself.
  #eventQueue(
    stream: NodeJS.ReadableStream,
    linked: { signal: AbortSignal; dispose: () => void },
  ): AsyncQueue<ContainerEvent> {
    const decoder = new EventLineDecoder({
      projectFromLabels: this.#eventsHaveLabels,
    });
    const queue = new AsyncQueue<ContainerEvent>({
      signal: linked.signal,
      onEnd: () => {
        linked.dispose();
        (stream as unknown as { destroy?: () => void }).destroy?.();
      },
    });
    const ended = (err?: Error) => {
      if (linked.signal.aborted) return queue.end();
      queue.end(
        new EventStreamEndedError(this.api, {
          engine: this.type,
          cause: err,
          detail: err?.message,
        }),
      );
    };
    stream.on("data", (chunk: Uint8Array | string) => {
      const skippedBefore = decoder.skipped;
      const events = decoder.push(chunk);
      this.stats.events += events.length + decoder.skipped - skippedBefore;
      this.stats.skippedEvents += decoder.skipped - skippedBefore;
      for (const e of events) queue.push(e);
    });
    stream.on("error", ended);
    stream.on("end", () => ended());
    stream.on("close", () => ended());
    return queue;
  }

  #engineInfo(
    signal?: AbortSignal,
  ): Promise<{ ID?: string; ServerVersion?: string }> {
    try {
      this.#assertOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    // One shared request (cached once answered), ended only by close().
    if (!this.#info) this.stats.calls++;
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
   * Ends every call in flight (rejecting with a {@linkcode ClientClosedError})
   * and every event stream; later calls reject. Idempotent.
   */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#closer.abort(this.#closedError());
    }
    return Promise.resolve();
  }

  /** Same as {@linkcode DockerClient.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #closedError(): Error {
    return new ClientClosedError(this.api, { engine: this.type });
  }

  #assertOpen(): void {
    if (this.#closed) throw this.#closedError();
    if (this.#accessChecked) return;
    const ep = this.#endpoint;
    if (ep.socketPath) assertSocketAccess(ep.socketPath, { engine: this.type });
    if (ep.protocol === "ssh") {
      this.#ssh = prepareSsh(ep, this.#sshOptions, this.type);
    }
    this.#accessChecked = true;
  }

  #fail(what: string, err: unknown, signal?: AbortSignal): unknown {
    if (signal?.aborted) return signal.reason;
    const typed = this.#ssh
      ? this.#ssh.classify(err)
      : connectFailure(this.api, err, { engine: this.type });
    if (typed) return typed;
    const message = (err as Error)?.message ?? String(err);
    return new Error(`${what} of docker engine "${this.api}": ${message}`, {
      cause: err,
    });
  }
}
