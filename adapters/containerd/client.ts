/**
 * The containerd engine client: containerd's native gRPC API over its unix
 * socket, mapped to the engine-client contract.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import {
  type CallOptions,
  ClientClosedError,
  type Container,
  type ContainerEvent,
  type ContainerSummary,
  type EngineClient,
  type EngineStats,
  EngineTooOldError,
  EventStreamEndedError,
  NotAnEngineError,
  type Preflighter,
  ProcesslessContainerError,
  type SummaryLister,
} from "../../engineclient/mod.ts";
import { mapPool } from "../../engineclient/_async.ts";
import { assertSocketAccess } from "../../engineclient/_failures.ts";
import {
  CHANNEL_OPTIONS,
  grpcFailure,
  grpcTarget,
  isGrpcStatus,
  loadProtos,
  type Message,
  type ProtoSet,
  type ServerStream,
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
  summarizeTasks,
  toContainer,
} from "./_identity.ts";
import { confirmSubscription, HANDSHAKE_TOPIC } from "./_subscription.ts";
import { CONTAINERD_TYPE, containerdEndpoint } from "./endpoint.ts";
import type { ContainerdOptions } from "./options.ts";

export type { ContainerdOptions } from "./options.ts";

/**
 * Namespaces other adaptors report: Docker's (`moby`) and CRI's (`k8s.io`).
 *
 * @example
 * ```ts
 * import { DEFAULT_IGNORED_NAMESPACES } from "@whalewatcher/whalewatcher/containerd";
 * console.log(DEFAULT_IGNORED_NAMESPACES); // [ "moby", "k8s.io" ]
 * ```
 */
export const DEFAULT_IGNORED_NAMESPACES: readonly string[] = Object.freeze([
  "moby",
  "k8s.io",
]);

/**
 * The oldest containerd the adaptor supports.
 *
 * @example
 * ```ts
 * import { MIN_CONTAINERD_VERSION } from "@whalewatcher/whalewatcher/containerd";
 * console.log(MIN_CONTAINERD_VERSION); // "1.5"
 * ```
 */
export const MIN_CONTAINERD_VERSION = "1.5";

const NAMESPACE_HEADER = "containerd-namespace";
// Containers.List carries every container's OCI spec: far more than grpc-js'
// default 4 MiB limit with a few hundred containers.
const MAX_RECEIVE_BYTES = 256 * 1024 * 1024;

const SERVICES = {
  containers: "containerd.services.containers.v1.Containers",
  tasks: "containerd.services.tasks.v1.Tasks",
  events: "containerd.services.events.v1.Events",
  namespaces: "containerd.services.namespaces.v1.Namespaces",
  introspection: "containerd.services.introspection.v1.Introspection",
  version: "containerd.services.version.v1.Version",
} as const;

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

/** Whether version `a` (`"1.7.24"`, `"v2.1.0"`) is older than `b` (`"1.5"`). */
function olderVersion(a: string, b: string): boolean {
  const pa = a.replace(/^v/, "").split(/[.-]/).map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < pb.length; i++) {
    const x = pa[i] ?? 0;
    if (!Number.isFinite(x)) return false;
    if (x !== pb[i]) return x < pb[i];
  }
  return false;
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
 * await using engine = new ContainerdClient("/run/containerd/containerd.sock");
 * for (const c of await engine.list()) console.log(c.id, c.pid);
 * ```
 */
export class ContainerdClient
  implements EngineClient, Preflighter, SummaryLister, AsyncDisposable {
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
  /** Namespaces left out of lists and events. */
  readonly ignoredNamespaces: ReadonlySet<string>;
  /** Counters of API calls and events. */
  readonly stats: EngineStats = { calls: 0, events: 0, skippedEvents: 0 };
  #grpc: grpc.Client;
  #concurrency: number;
  #confirm: boolean;
  #closed = false;
  #accessChecked = false;
  #streams = new Set<{ cancel(): void }>();

  /**
   * Connects (lazily) to containerd at `endpoint` (default:
   * `CONTAINERD_ADDRESS`, else `/run/containerd/containerd.sock`).
   */
  constructor(endpoint?: string, options: ContainerdOptions = {}) {
    const target = containerdEndpoint(endpoint);
    this.type = options.type ?? CONTAINERD_TYPE;
    this.api = socketPath(target);
    this.pid = options.pid ?? 0;
    this.ignoredNamespaces = new Set(
      options.ignoredNamespaces ?? DEFAULT_IGNORED_NAMESPACES,
    );
    this.#concurrency = Math.max(1, options.concurrency ?? 8);
    this.#confirm = options.confirmSubscription ?? true;
    this.client = this.#grpc = new grpc.Client(
      grpcTarget(target),
      grpc.credentials.createInsecure(),
      {
        ...CHANNEL_OPTIONS,
        "grpc.max_receive_message_length": MAX_RECEIVE_BYTES,
      },
    );
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new ClientClosedError(this.api, { engine: this.type });
    }
    if (!this.#accessChecked) {
      assertSocketAccess(this.api, { engine: this.type });
      this.#accessChecked = true;
    }
  }

  async #call(
    service: keyof typeof SERVICES,
    method: string,
    request: Message,
    namespace: string | undefined,
    options: CallOptions,
  ): Promise<Message> {
    this.#assertOpen();
    this.stats.calls++;
    try {
      return await unaryCall(
        this.#grpc,
        protos().method(SERVICES[service], method),
        request,
        {
          signal: options.signal,
          metadata: namespace === undefined ? undefined : namespaced(namespace),
        },
      );
    } catch (err) {
      if (isGrpcStatus(err, grpc.status.NOT_FOUND)) throw err;
      throw grpcFailure(`${service} ${method}`, this.api, err, {
        engine: this.type,
        signal: options.signal,
      });
    }
  }

  /**
   * Checks that containerd of a supported version answers (its Version
   * service); rejects with `NotAnEngineError` for another gRPC server or
   * protocol, `EngineTooOldError` below {@linkcode MIN_CONTAINERD_VERSION}
   * and the connection errors of the contract.
   */
  async preflight(options: CallOptions = {}): Promise<void> {
    let version: string;
    try {
      version = String(
        (await this.#call("version", "Version", {}, undefined, options))
          .version ?? "",
      );
    } catch (err) {
      const code = (err as { code?: unknown })?.code;
      if (
        code === grpc.status.UNIMPLEMENTED || code === grpc.status.INTERNAL ||
        code === grpc.status.UNKNOWN
      ) {
        throw new NotAnEngineError(this.api, {
          engine: this.type,
          cause: err,
          detail: "no containerd Version service answers",
        });
      }
      throw err;
    }
    if (version && olderVersion(version, MIN_CONTAINERD_VERSION)) {
      throw new EngineTooOldError(this.api, {
        engine: this.type,
        version,
        minimum: MIN_CONTAINERD_VERSION,
      });
    }
  }

  /** The namespaces whose containers this client reports. */
  async namespaces(options: CallOptions = {}): Promise<string[]> {
    const res = await this.#call("namespaces", "List", {}, undefined, options);
    return (res.namespaces as Message[]).map((ns) => String(ns.name))
      .filter((name) => !this.ignoredNamespaces.has(name));
  }

  /** The alive containers of one namespace: two calls, joined in memory. */
  async #listNamespace(
    namespace: string,
    options: CallOptions,
  ): Promise<Container[]> {
    const [containers, tasks] = await Promise.all([
      this.#call("containers", "List", {}, namespace, options),
      this.#call("tasks", "List", {}, namespace, options),
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
    const lists = await mapPool(
      namespaces,
      (ns, signal) => this.#listNamespace(ns, { signal }),
      { concurrency: this.#concurrency, signal: options.signal },
    );
    return lists.flat();
  }

  /**
   * Lists the alive containers of every namespace not ignored as summaries
   * (ID, paused state, PID): `Namespaces.List` and one `Tasks.List` per
   * namespace, without the container records (which carry every
   * container's OCI spec).
   */
  async listSummaries(options: CallOptions = {}): Promise<ContainerSummary[]> {
    const namespaces = await this.namespaces(options);
    const lists = await mapPool(
      namespaces,
      async (ns, signal) =>
        summarizeTasks(
          ns,
          (await this.#call("tasks", "List", {}, ns, { signal }))
            .tasks as never,
        ),
      { concurrency: this.#concurrency, signal: options.signal },
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
        this.#call("containers", "Get", { id }, namespace, options),
        this.#call("tasks", "Get", { container_id: id }, namespace, options),
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
   * namespaces not ignored; resolves once containerd has registered the
   * subscription (see the `confirmSubscription` option).
   */
  async lifecycleEvents(
    options: CallOptions = {},
  ): Promise<AsyncIterable<ContainerEvent>> {
    this.#assertOpen();
    const { signal } = options;
    signal?.throwIfAborted();
    const topic = `${HANDSHAKE_TOPIC}/${crypto.randomUUID()}`;
    const filters = taskTopicFilters();
    if (this.#confirm) filters.push(`topic==${JSON.stringify(topic)}`);
    this.stats.calls++;
    const stream = serverStream(
      this.#grpc,
      protos().method(SERVICES.events, "Subscribe"),
      { filters },
      { signal },
    );
    this.#streams.add(stream);
    const pending: Message[] = [];
    let outstanding;
    try {
      if (this.#confirm) {
        outstanding = await confirmSubscription(stream, topic, pending, {
          grpc: this.#grpc,
          publish: protos().method(SERVICES.events, "Publish"),
          metadata: namespaced(DEFAULT_NAMESPACE),
          signal,
          endpoint: this.api,
        });
      } else {
        // Sent after the subscription on the same connection.
        await this.#call("version", "Version", {}, undefined, options);
      }
    } catch (err) {
      stream.cancel();
      this.#streams.delete(stream);
      throw grpcFailure("event subscription", this.api, err, {
        engine: this.type,
        signal,
      });
    }
    return this.#events(stream, topic, pending, outstanding, signal);
  }

  async *#events(
    stream: ServerStream<Message>,
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
      throw new EventStreamEndedError(this.api, { engine: this.type });
    } catch (err) {
      if (signal?.aborted || this.#closed) return;
      if (err instanceof EventStreamEndedError) throw err;
      throw new EventStreamEndedError(this.api, {
        engine: this.type,
        cause: err,
        detail: (err as { details?: string })?.details ??
          (err as Error)?.message,
      });
    } finally {
      stream.cancel();
      this.#streams.delete(stream);
    }
  }

  #decode(envelope: Message, handshake: string): ContainerEvent | undefined {
    if (envelope.topic === handshake) return undefined;
    this.stats.events++;
    if (this.ignoredNamespaces.has(envelope.namespace)) return undefined;
    const event = decodeTaskEnvelope(
      envelope,
      (type, bytes) => protos().decode(type, bytes),
    );
    if (event === null) this.stats.skippedEvents++;
    return event ?? undefined;
  }

  /** The containerd server's UUID (from the Introspection service). */
  async id(options: CallOptions = {}): Promise<string> {
    const res = await this.#call(
      "introspection",
      "Server",
      {},
      undefined,
      options,
    );
    return String(res.uuid);
  }

  /** containerd's "version revision", such as `"1.7.24 1.7.24~ds1-..."`. */
  async version(options: CallOptions = {}): Promise<string> {
    const res = await this.#call("version", "Version", {}, undefined, options);
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

  /** Same as {@linkcode ContainerdClient.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
