/**
 * The containerd engine client: containerd's native gRPC API over its unix
 * socket, mapped to the engine-client contract.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import {
  type CallOptions,
  type Container,
  type ContainerEvent,
  type EngineClient,
  type EngineOptions,
  ProcesslessContainerError,
} from "../../engineclient/mod.ts";
import {
  grpcTarget,
  isGrpcStatus,
  loadProtos,
  type Message,
  type ProtoSet,
  serverStream,
  socketPath,
  unaryCall,
} from "../_grpc/mod.ts";
import { CONTAINERD_PROTOS } from "../../protos/containerd/_protos.ts";
import { decodeTaskEnvelope, taskTopicFilters } from "./_events.ts";
import {
  DEFAULT_NAMESPACE,
  isAliveStatus,
  joinContainersAndTasks,
  parseDisplayId,
  toContainer,
} from "./_identity.ts";

/** The engine type string of containerd. */
export const CONTAINERD_TYPE = "containerd.io";

/** containerd's usual API socket. */
export const DEFAULT_CONTAINERD_SOCKET = "/run/containerd/containerd.sock";

/** Namespaces other adaptors report: Docker's (`moby`) and CRI's (`k8s.io`). */
export const DEFAULT_IGNORED_NAMESPACES: readonly string[] = Object.freeze([
  "moby",
  "k8s.io",
]);

/**
 * Options of {@linkcode ContainerdClient}.
 *
 * @example
 * ```ts
 * import type { ContainerdOptions } from "@whalewatcher/whalewatcher/containerd";
 * const options: ContainerdOptions = { ignoredNamespaces: [] }; // see all
 * ```
 */
export interface ContainerdOptions extends EngineOptions {
  /** Namespaces left out of lists and events; default `["moby", "k8s.io"]`. */
  ignoredNamespaces?: readonly string[];
}

const NAMESPACE_HEADER = "containerd-namespace";
const HANDSHAKE_TOPIC = "/whalewatcher/subscribed";
const EMPTY_TYPE_URL = "types.googleapis.com/google.protobuf.Empty";
// Containers.List carries every container's OCI spec: far more than grpc-js'
// default 4 MiB limit with a few hundred containers.
const MAX_RECEIVE_BYTES = 256 * 1024 * 1024;

let protoSet: ProtoSet | undefined;
function protos(): ProtoSet {
  return protoSet ??= loadProtos(CONTAINERD_PROTOS);
}

/** Request metadata naming a containerd namespace. */
function namespaced(namespace: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(NAMESPACE_HEADER, namespace);
  return md;
}

/**
 * A client of containerd's native API. Lists and watches the tasks of every
 * namespace except the ignored ones. Container IDs are `namespace/id`, bare
 * in namespace `default`; names come from the `nerdctl/name` label (same
 * namespace rule), else the ID.
 *
 * @example
 * ```ts ignore
 * import { ContainerdClient } from "@whalewatcher/whalewatcher/containerd";
 *
 * const engine = new ContainerdClient("/run/containerd/containerd.sock");
 * try {
 *   for (const c of await engine.list()) console.log(c.id, c.pid);
 * } finally {
 *   await engine.close();
 * }
 * ```
 */
export class ContainerdClient implements EngineClient {
  /** The engine type string (`"containerd.io"` unless overridden). */
  readonly type: string;
  /** The socket path (or gRPC target) this client talks to. */
  readonly api: string;
  /** PID of the containerd process when known, else 0. */
  readonly pid: number;
  /**
   * The grpc-js `Client` (one channel) of this engine client; typed
   * `unknown` as in the contract, cast it to `grpc.Client` of
   * `npm:@grpc/grpc-js` to make further calls.
   */
  readonly client: unknown;
  #grpc: grpc.Client;
  /** Namespaces left out of lists and events. */
  readonly ignoredNamespaces: ReadonlySet<string>;
  #skipped = 0;
  #closed = false;
  #streams = new Set<{ cancel(): void }>();

  /** Connects (lazily) to containerd's socket at `endpoint`. */
  constructor(
    endpoint: string = DEFAULT_CONTAINERD_SOCKET,
    options: ContainerdOptions = {},
  ) {
    this.type = options.type ?? CONTAINERD_TYPE;
    this.api = socketPath(endpoint);
    this.pid = options.pid ?? 0;
    this.ignoredNamespaces = new Set(
      options.ignoredNamespaces ?? DEFAULT_IGNORED_NAMESPACES,
    );
    this.client = this.#grpc = new grpc.Client(
      grpcTarget(endpoint),
      grpc.credentials.createInsecure(),
      { "grpc.max_receive_message_length": MAX_RECEIVE_BYTES },
    );
  }

  /** Event payloads skipped because they could not be decoded. */
  get skippedEvents(): number {
    return this.#skipped;
  }

  #call(
    service: string,
    method: string,
    request: Message,
    namespace: string | undefined,
    options: CallOptions,
  ): Promise<Message> {
    if (this.#closed) {
      return Promise.reject(
        new Error(`containerd client of "${this.api}" is closed`),
      );
    }
    return unaryCall(this.#grpc, protos().method(service, method), request, {
      signal: options.signal,
      metadata: namespace === undefined ? undefined : namespaced(namespace),
    });
  }

  /** The namespaces whose containers this client reports. */
  async namespaces(options: CallOptions = {}): Promise<string[]> {
    const res = await this.#call(
      "containerd.services.namespaces.v1.Namespaces",
      "List",
      {},
      undefined,
      options,
    );
    return (res.namespaces as Message[]).map((ns) => String(ns.name))
      .filter((name) => !this.ignoredNamespaces.has(name));
  }

  /** The alive containers of one namespace: two calls, joined in memory. */
  async #listNamespace(
    namespace: string,
    options: CallOptions,
  ): Promise<Container[]> {
    const [containers, tasks] = await Promise.all([
      this.#call(
        "containerd.services.containers.v1.Containers",
        "List",
        {},
        namespace,
        options,
      ),
      this.#call(
        "containerd.services.tasks.v1.Tasks",
        "List",
        {},
        namespace,
        options,
      ),
    ]);
    return joinContainersAndTasks(
      namespace,
      containers.containers as Message[] as never,
      tasks.tasks as never,
    );
  }

  /** Lists the alive containers of every namespace not ignored. */
  async list(options: CallOptions = {}): Promise<Container[]> {
    const namespaces = await this.namespaces(options);
    const lists = await Promise.all(
      namespaces.map((ns) => this.#listNamespace(ns, options)),
    );
    return lists.flat();
  }

  /**
   * Inspects a container by display ID (`namespace/id`, bare in
   * `default`). Rejects with {@linkcode ProcesslessContainerError} when the
   * container or its task does not exist or the task is not alive.
   */
  async inspect(
    nameOrId: string,
    options: CallOptions = {},
  ): Promise<Container> {
    const { namespace, id } = parseDisplayId(nameOrId);
    let record: Message, task: Message;
    try {
      [record, task] = await Promise.all([
        this.#call(
          "containerd.services.containers.v1.Containers",
          "Get",
          { id },
          namespace,
          options,
        ),
        this.#call(
          "containerd.services.tasks.v1.Tasks",
          "Get",
          { container_id: id },
          namespace,
          options,
        ),
      ]);
    } catch (err) {
      if (isGrpcStatus(err, grpc.status.NOT_FOUND)) {
        throw new ProcesslessContainerError(nameOrId, {
          engine: this.type,
          cause: err,
        });
      }
      throw err;
    }
    const process = task.process as Message | null;
    const container = process && isAliveStatus(process.status) &&
      toContainer(namespace, record.container as never, process as never);
    if (!container) {
      throw new ProcesslessContainerError(nameOrId, { engine: this.type });
    }
    return container;
  }

  /**
   * Subscribes to task start, exit, paused and resumed events of the
   * namespaces not ignored.
   *
   * containerd sends no response headers before the first event, so the
   * subscription is confirmed by a handshake: the client publishes an empty
   * event on a topic unique to this subscription (in namespace `default`,
   * visible to other unfiltered subscribers such as `ctr events`) until it
   * comes back through the stream; only then the promise resolves. If
   * publishing is refused, the promise resolves without the confirmation.
   */
  async lifecycleEvents(
    options: CallOptions = {},
  ): Promise<AsyncIterable<ContainerEvent>> {
    if (this.#closed) {
      throw new Error(`containerd client of "${this.api}" is closed`);
    }
    const { signal } = options;
    signal?.throwIfAborted();
    const p = protos();
    const handshake = `${HANDSHAKE_TOPIC}/${crypto.randomUUID()}`;
    const stream = serverStream(
      this.#grpc,
      p.method("containerd.services.events.v1.Events", "Subscribe"),
      {
        filters: [
          ...taskTopicFilters(),
          `topic==${JSON.stringify(handshake)}`,
        ],
      },
      { signal },
    );
    this.#streams.add(stream);
    const pending: Message[] = [];
    let outstanding;
    try {
      outstanding = await this.#handshake(stream, handshake, pending, signal);
    } catch (err) {
      stream.cancel();
      this.#streams.delete(stream);
      throw err;
    }
    return this.#events(stream, handshake, pending, outstanding, signal);
  }

  // Publishes the handshake event until it arrives (the subscription may
  // not be registered yet when the first one is published), collecting the
  // envelopes that arrive before it. Returns the read still outstanding
  // when publishing was refused.
  async #handshake(
    stream: AsyncIterator<Message>,
    topic: string,
    pending: Message[],
    signal: AbortSignal | undefined,
  ): Promise<{ next: Promise<IteratorResult<Message>> } | undefined> {
    const publish = protos().method(
      "containerd.services.events.v1.Events",
      "Publish",
    );
    let seen = false;
    const publisher = (async (): Promise<"refused" | "stopped"> => {
      for (let delay = 1; !seen; delay = Math.min(delay * 2, 1000)) {
        try {
          await unaryCall(this.#grpc, publish, {
            topic,
            event: { type_url: EMPTY_TYPE_URL, value: new Uint8Array() },
          }, { metadata: namespaced(DEFAULT_NAMESPACE), signal });
        } catch (err) {
          if (signal?.aborted) return "stopped";
          if (
            isGrpcStatus(err, grpc.status.UNIMPLEMENTED) ||
            isGrpcStatus(err, grpc.status.PERMISSION_DENIED)
          ) return "refused";
          // Other failures show on the stream too; keep trying meanwhile.
        }
        if (seen) break;
        await sleep(delay, signal);
      }
      return "stopped";
    })();
    // A promise that only settles when publishing was refused.
    const refused = publisher.then((state) =>
      state === "refused" ? "refused" as const : new Promise<never>(() => {})
    );
    try {
      let next = stream.next();
      while (true) {
        const step = await Promise.race([
          next.then((result) => ({ result })),
          refused,
        ]);
        if (step === "refused") return { next }; // go on unconfirmed
        const { result } = step;
        if (result.done) {
          signal?.throwIfAborted();
          throw new Error(
            `containerd event stream of "${this.api}" ended before it was confirmed`,
          );
        }
        if (result.value.topic === topic) return undefined;
        pending.push(result.value);
        next = stream.next();
      }
    } finally {
      seen = true;
      await publisher;
    }
  }

  async *#events(
    stream: AsyncIterableIterator<Message> & { cancel(): void },
    handshake: string,
    pending: Message[],
    outstanding: { next: Promise<IteratorResult<Message>> } | undefined,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<ContainerEvent> {
    try {
      for (const envelope of pending) {
        const event = this.#decode(envelope, handshake);
        if (event) yield event;
      }
      pending.length = 0;
      const first = await outstanding?.next;
      if (first && !first.done) {
        const event = this.#decode(first.value, handshake);
        if (event) yield event;
      }
      for await (const envelope of stream) {
        const event = this.#decode(envelope, handshake);
        if (event) yield event;
      }
      if (signal?.aborted || this.#closed) return;
      throw new Error(`containerd event stream of "${this.api}" ended`);
    } catch (err) {
      if (signal?.aborted || this.#closed) return;
      throw err;
    } finally {
      stream.cancel();
      this.#streams.delete(stream);
    }
  }

  #decode(envelope: Message, handshake: string): ContainerEvent | undefined {
    if (envelope.topic === handshake) return undefined;
    if (this.ignoredNamespaces.has(envelope.namespace)) return undefined;
    const event = decodeTaskEnvelope(
      envelope,
      (type, bytes) => protos().decode(type, bytes),
    );
    if (event === null) this.#skipped++;
    return event ?? undefined;
  }

  /** The containerd server's UUID (from the Introspection service). */
  async id(options: CallOptions = {}): Promise<string> {
    const res = await this.#call(
      "containerd.services.introspection.v1.Introspection",
      "Server",
      {},
      undefined,
      options,
    );
    return String(res.uuid);
  }

  /** containerd's "version revision", such as `"1.7.24 1.7.24~ds1-..."`. */
  async version(options: CallOptions = {}): Promise<string> {
    const res = await this.#call(
      "containerd.services.version.v1.Version",
      "Version",
      {},
      undefined,
      options,
    );
    return `${res.version} ${res.revision}`.trim();
  }

  /** Cancels open event streams and closes the gRPC channel. Idempotent. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const stream of this.#streams) stream.cancel();
      this.#streams.clear();
      this.#grpc.close();
    }
    return Promise.resolve();
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
