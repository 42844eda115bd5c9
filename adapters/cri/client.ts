/**
 * The CRI engine client: Kubernetes' Container Runtime Interface (runtime
 * API v1) over gRPC, as served by containerd's CRI plugin and cri-o.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
import {
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
import { RUNTIME_V1_PROTO } from "../../protos/cri/_runtime_v1.ts";
import {
  type CallOptions,
  type Container,
  type ContainerEvent,
  type EngineClient,
  type EngineOptions,
  newContainer,
  ProcesslessContainerError,
  PROJECT_UNKNOWN,
  type RucksackPacker,
} from "../../engineclient/mod.ts";
import { CRI_ANNOTATION_PREFIX } from "./labels.ts";
import {
  criEventFields,
  criLabels,
  type PodInfo,
  podInfo,
  verboseInfo,
  verbosePid,
} from "./_labels.ts";
import { aliveDiff, mapLimit, sleep } from "./_relist.ts";

const SERVICE = "runtime.v1.RuntimeService";

let protos: ProtoSet | undefined;
// Parsed on first use: importing the module stays cheap.
function runtimeProtos(): ProtoSet {
  return protos ??= loadProtos({ "runtime_v1.proto": RUNTIME_V1_PROTO });
}

/**
 * The endpoint a {@linkcode CriClient} talks to when given none:
 * containerd's default socket (which also serves CRI).
 *
 * @example
 * ```ts
 * import { CRI_DEFAULT_ENDPOINT } from "@whalewatcher/whalewatcher/cri";
 * console.log(CRI_DEFAULT_ENDPOINT); // "/run/containerd/containerd.sock"
 * ```
 */
export const CRI_DEFAULT_ENDPOINT = "/run/containerd/containerd.sock";

/**
 * Options of the CRI adaptor.
 *
 * @example
 * ```ts
 * import type { CriOptions } from "@whalewatcher/whalewatcher/cri";
 * const options: CriOptions = { relist: true, relistIntervalMs: 500 };
 * ```
 */
export interface CriOptions extends EngineOptions {
  /** What {@linkcode CriClient.id} answers; defaults to `Deno.hostname()`. */
  hostId?: string;
  /**
   * Detect changes by relisting instead of `GetContainerEvents`, even when
   * the runtime has events. Relisting is used anyway when the runtime
   * answers UNIMPLEMENTED (containerd 1.6, older cri-o).
   */
  relist?: boolean;
  /** Interval of the relisting fallback; default 1000 ms. */
  relistIntervalMs?: number;
  /** How many verbose status calls `list` makes at once; default 8. */
  statusConcurrency?: number;
  /**
   * Prefix under which annotations become labels; default `"annotation."`;
   * `null` leaves annotations out.
   */
  annotationPrefix?: string | null;
  /**
   * Label (after the adaptor's additions, such as
   * `io.kubernetes.pod.namespace`) whose value becomes the container's
   * project; by default containers have no project (`""`).
   */
  projectLabel?: string;
  /**
   * Events that the runtime timestamps more than this before the
   * subscription are replays of containerd 1.7's backlog (it buffers events
   * while nobody listens) and are dropped: the list made after subscribing
   * already reflects them. Default 2000 ms; `Infinity` keeps them all.
   */
  staleEventGraceMs?: number;
  /** Packs each container's rucksack from its CRI inspection. */
  packer?: RucksackPacker;
  /** grpc-js channel options (keepalive and the like), such as
   * `{ "grpc.keepalive_time_ms": 30000 }`. */
  channelOptions?: Record<string, string | number>;
}

/**
 * Counters of a {@linkcode CriClient}, for diagnostics and benchmarks.
 *
 * @example
 * ```ts ignore
 * console.log(client.stats.calls);
 * ```
 */
export interface CriStats {
  /** CRI calls made (unary calls and event subscriptions). */
  calls: number;
  /** Event messages received from `GetContainerEvents`. */
  events: number;
  /** Replayed backlog events dropped (see `staleEventGraceMs`). */
  staleEventsSkipped: number;
  /** Event messages without a usable container ID. */
  malformedEvents: number;
  /** Relisting rounds made by the fallback. */
  relists: number;
}

/**
 * What a {@linkcode RucksackPacker} gets as inspection of a CRI container:
 * the decoded status message, the parsed verbose `info` JSON and the pod.
 *
 * @example
 * ```ts
 * import type { CriInspection } from "@whalewatcher/whalewatcher/cri";
 * const pick = (i: CriInspection) => i.info?.["runtimeType"];
 * ```
 */
export interface CriInspection {
  /** `"container"` or `"sandbox"`. */
  kind: "container" | "sandbox";
  /** `ContainerStatus` or `PodSandboxStatus`, snake_case keys. */
  status: Record<string, unknown>;
  /** The parsed JSON of the verbose `info["info"]`, when any. */
  info: Record<string, unknown> | undefined;
  /** The pod the container belongs to (for a sandbox: its own pod). */
  pod: {
    id: string;
    name: string;
    namespace: string;
    uid: string;
  } | undefined;
}

// A status lookup: the container (alive), null (exists, not alive), or a
// NOT_FOUND gRPC error thrown.
type Lookup = Promise<Container | null>;

/**
 * An {@linkcode EngineClient} for CRI runtimes. Reports running containers
 * and ready pod sandboxes (sandboxes are containers too, marked by the
 * `whalewatcher/sandbox` label); a containerd socket serves both this
 * adaptor and the containerd one, and each reports only its own (CRI's live
 * in containerd's `k8s.io` namespace, which the containerd adaptor ignores
 * by default). No pause state in CRI.
 *
 * @example
 * ```ts ignore
 * import { CriClient } from "@whalewatcher/whalewatcher/cri";
 * const cri = new CriClient("/run/containerd/containerd.sock");
 * try {
 *   for (const c of await cri.list()) console.log(c.name, c.pid);
 * } finally {
 *   await cri.close();
 * }
 * ```
 */
export class CriClient implements EngineClient {
  /** Engine type: `"cri"` or the configured one. */
  readonly type: string;
  /** The socket path (or gRPC target) of the runtime. */
  readonly api: string;
  /** PID of the runtime process when known (given in the options), else 0. */
  readonly pid: number;
  /** The grpc-js `Client` of the runtime's channel. */
  readonly client: unknown;
  /** Counters for diagnostics and benchmarks. */
  readonly stats: CriStats = {
    calls: 0,
    events: 0,
    staleEventsSkipped: 0,
    malformedEvents: 0,
    relists: 0,
  };

  #hostId: string | undefined;
  #relist: boolean;
  #relistIntervalMs: number;
  #concurrency: number;
  #annotationPrefix: string | null;
  #projectLabel: string | undefined;
  #graceMs: number;
  #packer: RucksackPacker | undefined;
  #eventsSupported: boolean | undefined;
  // Pods are immutable in CRI: cached to join containers with their pod.
  #pods = new Map<string, PodInfo>();
  #closer = new AbortController();
  #grpc: grpc.Client;

  /** Makes a client of the runtime at `endpoint` (a socket path or target). */
  constructor(
    endpoint: string = CRI_DEFAULT_ENDPOINT,
    options: CriOptions = {},
  ) {
    this.type = options.type ?? "cri";
    this.api = socketPath(endpoint);
    this.pid = options.pid ?? 0;
    this.#hostId = options.hostId;
    this.#relist = options.relist ?? false;
    this.#relistIntervalMs = options.relistIntervalMs ?? 1000;
    this.#concurrency = Math.max(1, options.statusConcurrency ?? 8);
    this.#annotationPrefix = options.annotationPrefix === undefined
      ? CRI_ANNOTATION_PREFIX
      : options.annotationPrefix;
    this.#projectLabel = options.projectLabel;
    this.#graceMs = options.staleEventGraceMs ?? 2000;
    this.#packer = options.packer;
    this.client = this.#grpc = new grpc.Client(
      grpcTarget(endpoint),
      grpc.credentials.createInsecure(),
      options.channelOptions ?? {},
    );
  }

  /**
   * Whether the runtime delivers `GetContainerEvents`: `undefined` until a
   * subscription found out; `false` means changes are found by relisting.
   */
  get eventsSupported(): boolean | undefined {
    return this.#eventsSupported;
  }

  #call(
    method: string,
    request: Message,
    options: CallOptions,
  ): Promise<Message> {
    if (this.#closer.signal.aborted) {
      return Promise.reject(
        new Error(`cri client of "${this.api}" is closed`),
      );
    }
    this.stats.calls++;
    return unaryCall(
      this.#grpc,
      runtimeProtos().method(SERVICE, method),
      request,
      { signal: options.signal },
    );
  }

  // Keeps abort reasons as they are; names the socket in gRPC failures.
  #failure(what: string, err: unknown, signal?: AbortSignal): unknown {
    if (signal?.aborted && err === signal.reason) return err;
    const detail = (err as { details?: string })?.details ??
      (err as Error)?.message ?? String(err);
    const wrapped = new Error(
      `cri ${what} on "${this.api}" failed: ${detail}`,
      {
        cause: err,
      },
    );
    (wrapped as { code?: unknown }).code = (err as { code?: unknown })?.code;
    return wrapped;
  }

  /**
   * Lists the running containers and ready pod sandboxes: pods and
   * containers are listed once each and joined in memory; each then needs
   * one verbose status call for its PID (at most `statusConcurrency` at
   * once). Containers that vanish meanwhile are left out.
   */
  async list(options: CallOptions = {}): Promise<Container[]> {
    let pods: Message, containers: Message;
    try {
      [pods, containers] = await Promise.all([
        this.#call("ListPodSandbox", {}, options),
        this.#call("ListContainers", {
          filter: { state: { state: "CONTAINER_RUNNING" } },
        }, options),
      ]);
    } catch (err) {
      throw this.#failure("list", err, options.signal);
    }
    const podMap = new Map<string, PodInfo>();
    const work: (() => Lookup)[] = [];
    for (const item of pods.items ?? []) {
      const pod = podInfo(item);
      podMap.set(pod.id, pod);
      if (item.state === "SANDBOX_READY") {
        work.push(() => this.#sandbox(pod.id, options));
      }
    }
    this.#pods = podMap;
    for (const item of containers.containers ?? []) {
      if (item.state !== "CONTAINER_RUNNING") continue;
      const pod = podMap.get(item.pod_sandbox_id);
      work.push(() => this.#container(item.id, options, pod));
    }
    const found = await mapLimit(work, this.#concurrency, async (lookup) => {
      try {
        return await lookup();
      } catch (err) {
        if (isGrpcStatus(err, grpc.status.NOT_FOUND)) return null;
        throw this.#failure("list", err, options.signal);
      }
    });
    return found.filter((c): c is Container => c !== null);
  }

  /**
   * Inspects a container or pod sandbox by ID (or, failing that, by
   * name); rejects with {@linkcode ProcesslessContainerError} when it is
   * not running (or ready) or gone.
   */
  async inspect(
    nameOrId: string,
    options: CallOptions = {},
  ): Promise<Container> {
    const sandbox = () => this.#sandbox(nameOrId, options);
    const container = () => this.#container(nameOrId, options);
    // A known pod ID is tried as a sandbox first: one call instead of two.
    const order = this.#pods.has(nameOrId)
      ? [sandbox, container]
      : [container, sandbox];
    for (const lookup of order) {
      let found: Container | null;
      try {
        found = await lookup();
      } catch (err) {
        if (isGrpcStatus(err, grpc.status.NOT_FOUND)) continue;
        throw this.#failure(`inspect of "${nameOrId}"`, err, options.signal);
      }
      if (found) return found;
      throw new ProcesslessContainerError(nameOrId, { engine: this.type });
    }
    const byName = (await this.list(options)).find((c) => c.name === nameOrId);
    if (byName) return byName;
    throw new ProcesslessContainerError(nameOrId, { engine: this.type });
  }

  async #sandbox(id: string, options: CallOptions): Lookup {
    const res = await this.#call("PodSandboxStatus", {
      pod_sandbox_id: id,
      verbose: true,
    }, options);
    const status = res.status;
    if (!status) return null;
    const pod = podInfo(status);
    if (pod.id) this.#pods.set(pod.id, pod);
    if (status.state !== "SANDBOX_READY") return null;
    const labels = criLabels(status, pod, {
      annotationPrefix: this.#annotationPrefix,
    });
    return this.#make(pod.id || id, pod.name, labels, res.info, {
      kind: "sandbox",
      status,
      pod,
    });
  }

  async #container(id: string, options: CallOptions, pod?: PodInfo): Lookup {
    const res = await this.#call("ContainerStatus", {
      container_id: id,
      verbose: true,
    }, options);
    const status = res.status;
    if (!status || status.state !== "CONTAINER_RUNNING") return null;
    pod ??= await this.#podOf(status.id || id, res.info, options);
    const labels = criLabels(status, pod, {
      containerName: status.metadata?.name ?? "",
      annotationPrefix: this.#annotationPrefix,
    });
    return this.#make(
      status.id || id,
      status.metadata?.name ?? "",
      labels,
      res.info,
      { kind: "container", status, pod },
    );
  }

  // The pod of a container found without one: the verbose info names the
  // sandbox (containerd, cri-o), else the container list does.
  async #podOf(
    id: string,
    info: Record<string, string> | undefined,
    options: CallOptions,
  ): Promise<PodInfo | undefined> {
    let sandboxId = verboseInfo(info)?.["sandboxID"];
    if (typeof sandboxId !== "string" || sandboxId === "") {
      const res = await this.#call(
        "ListContainers",
        { filter: { id } },
        options,
      );
      sandboxId = res.containers?.[0]?.pod_sandbox_id;
      if (typeof sandboxId !== "string" || sandboxId === "") return undefined;
    }
    const cached = this.#pods.get(sandboxId);
    if (cached) return cached;
    const res = await this.#call("ListPodSandbox", {
      filter: { id: sandboxId },
    }, options);
    const item = res.items?.[0];
    if (!item) return undefined;
    const pod = podInfo(item);
    this.#pods.set(pod.id, pod);
    return pod;
  }

  #make(
    id: string,
    name: string,
    labels: Record<string, string>,
    info: Record<string, string> | undefined,
    inspection: Omit<CriInspection, "info">,
  ): Container {
    const project = this.#projectLabel === undefined
      ? ""
      : labels[this.#projectLabel] ?? "";
    const container = newContainer({
      id,
      name,
      labels,
      pid: verbosePid(info),
      project,
    });
    if (!this.#packer) return container;
    const full: CriInspection = { ...inspection, info: verboseInfo(info) };
    return newContainer({
      ...container,
      rucksack: this.#packer.pack(container, full),
    });
  }

  /**
   * Subscribes to container and sandbox starts and stops: through
   * `GetContainerEvents` when the runtime has it, else (or with the
   * `relist` option) by relisting every `relistIntervalMs` and reporting
   * the difference. Resolves once the runtime accepted the subscription (or
   * the relisting baseline is taken).
   */
  async lifecycleEvents(
    options: CallOptions = {},
  ): Promise<AsyncIterable<ContainerEvent>> {
    const signal = options.signal
      ? AbortSignal.any([options.signal, this.#closer.signal])
      : this.#closer.signal;
    if (signal.aborted) throw signal.reason;
    if (this.#relist || this.#eventsSupported === false) {
      return await this.#relisting(signal);
    }
    const since = Date.now();
    this.stats.calls++;
    const stream = serverStream(
      this.#grpc,
      runtimeProtos().method(SERVICE, "GetContainerEvents"),
      {},
      { signal },
    );
    try {
      await this.#accepted(stream, signal);
    } catch (err) {
      stream.cancel();
      if (isGrpcStatus(err, grpc.status.UNIMPLEMENTED)) {
        this.#eventsSupported = false;
        return await this.#relisting(signal);
      }
      throw this.#failure("event subscription", err, signal);
    }
    return this.#events(stream, signal, since);
  }

  // Accepted once the response headers arrive (containerd sends them at
  // once) or, for runtimes that send none before the first event, once a
  // Version call made after the subscription has been answered.
  #accepted(stream: ServerStream<Message>, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const call = stream.call;
      const done = (err?: unknown) => {
        call.off("metadata", onMetadata);
        call.off("error", onError);
        signal.removeEventListener("abort", onAbort);
        if (err === undefined) resolve();
        else reject(err);
      };
      const onMetadata = () => done();
      const onError = (err: unknown) => done(err);
      const onAbort = () => done(signal.reason);
      call.on("metadata", onMetadata);
      call.on("error", onError);
      signal.addEventListener("abort", onAbort, { once: true });
      this.#call("Version", { version: "v1" }, { signal }).then(
        () => done(),
        (err) => done(err),
      );
    });
  }

  async *#events(
    stream: ServerStream<Message>,
    signal: AbortSignal,
    since: number,
  ): AsyncGenerator<ContainerEvent> {
    try {
      for await (const message of stream) {
        this.#eventsSupported = true;
        const event = this.#event(message, since);
        if (event) yield event;
      }
    } catch (err) {
      if (signal.aborted) return;
      if (isGrpcStatus(err, grpc.status.UNIMPLEMENTED)) {
        // Learnt late: the next subscription relists.
        this.#eventsSupported = false;
      }
      throw this.#failure("event stream", err);
    } finally {
      stream.cancel();
    }
    if (!signal.aborted) {
      throw new Error(`cri event stream on "${this.api}" ended`);
    }
  }

  #event(message: Message, since: number): ContainerEvent | undefined {
    this.stats.events++;
    const fields = criEventFields(message);
    if (fields.kind === "malformed") {
      this.stats.malformedEvents++;
      return undefined;
    }
    if (fields.kind === "deleted") {
      this.#pods.delete(fields.id);
      return undefined;
    }
    const sandbox = message.pod_sandbox_status;
    if (
      typeof sandbox === "object" && sandbox !== null &&
      typeof sandbox.id === "string" && sandbox.id !== ""
    ) {
      this.#pods.set(sandbox.id, podInfo(sandbox));
    }
    if (fields.kind === "ignored") return undefined;
    const timestamp = fields.timestamp || Date.now();
    if (timestamp < since - this.#graceMs) {
      this.stats.staleEventsSkipped++;
      return undefined;
    }
    return {
      type: fields.kind,
      id: fields.id,
      project: this.#projectLabel === undefined ? "" : PROJECT_UNKNOWN,
      timestamp,
    };
  }

  // The IDs of running containers and ready sandboxes: two list calls, no
  // status calls. Also refreshes the pod cache.
  async #alive(signal: AbortSignal): Promise<Set<string>> {
    this.stats.relists++;
    const [pods, containers] = await Promise.all([
      this.#call("ListPodSandbox", {}, { signal }),
      this.#call("ListContainers", {
        filter: { state: { state: "CONTAINER_RUNNING" } },
      }, { signal }),
    ]);
    const alive = new Set<string>();
    const podMap = new Map<string, PodInfo>();
    for (const item of pods.items ?? []) {
      podMap.set(item.id, this.#pods.get(item.id) ?? podInfo(item));
      if (item.state === "SANDBOX_READY") alive.add(item.id);
    }
    this.#pods = podMap;
    for (const item of containers.containers ?? []) {
      if (item.state === "CONTAINER_RUNNING") alive.add(item.id);
    }
    return alive;
  }

  async #relisting(
    signal: AbortSignal,
  ): Promise<AsyncIterable<ContainerEvent>> {
    let alive: Set<string>;
    try {
      alive = await this.#alive(signal);
    } catch (err) {
      throw this.#failure("relisting", err, signal);
    }
    const project = this.#projectLabel === undefined ? "" : PROJECT_UNKNOWN;
    const interval = this.#relistIntervalMs;
    const next = (s: AbortSignal) => this.#alive(s);
    const failure = (err: unknown) => this.#failure("relisting", err);
    return (async function* (): AsyncGenerator<ContainerEvent> {
      while (await sleep(interval, signal)) {
        let now: Set<string>;
        try {
          now = await next(signal);
        } catch (err) {
          if (signal.aborted) return;
          throw failure(err);
        }
        const timestamp = Date.now();
        const { exited, started } = aliveDiff(alive, now);
        alive = now;
        for (const id of exited) {
          yield { type: "exited", id, project, timestamp };
        }
        for (const id of started) {
          yield { type: "started", id, project, timestamp };
        }
      }
    })();
  }

  /** The host name of the runtime's host (local sockets) or `hostId`. */
  id(_options: CallOptions = {}): Promise<string> {
    return Promise.resolve(this.#hostId ?? Deno.hostname());
  }

  /** `"runtime-name runtime-version API-version"`, e.g. `containerd 1.7.24 v1`. */
  async version(options: CallOptions = {}): Promise<string> {
    let res: Message;
    try {
      res = await this.#call("Version", { version: "v1" }, options);
    } catch (err) {
      throw this.#failure("version", err, options.signal);
    }
    return [res.runtime_name, res.runtime_version, res.runtime_api_version]
      .filter((s) => typeof s === "string" && s !== "").join(" ");
  }

  /** Ends every subscription and closes the gRPC channel; idempotent. */
  close(): Promise<void> {
    if (!this.#closer.signal.aborted) {
      this.#closer.abort(new Error(`cri client of "${this.api}" closed`));
      this.#grpc.close();
    }
    return Promise.resolve();
  }

  /** Same as {@linkcode CriClient.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
