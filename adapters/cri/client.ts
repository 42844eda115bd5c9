/**
 * The CRI engine client: Kubernetes' Container Runtime Interface (runtime
 * API v1) over gRPC, as served by containerd's CRI plugin and cri-o.
 *
 * @module
 */

import * as grpc from "@grpc/grpc-js";
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
import { RUNTIME_V1_PROTO } from "../../protos/cri/_runtime_v1.ts";
import {
  type CallOptions,
  ClientClosedError,
  type Container,
  type ContainerEvent,
  type ContainerSummary,
  type EngineClient,
  type EngineStats,
  EventStreamEndedError,
  NotAnEngineError,
  type Preflighter,
  ProcesslessContainerError,
  PROJECT_UNKNOWN,
  type RucksackPacker,
  type SummaryLister,
} from "../../engineclient/mod.ts";
import { mapPool } from "../../engineclient/_async.ts";
import { assertSocketAccess } from "../../engineclient/_failures.ts";
import { CRI_ANNOTATION_PREFIX } from "./labels.ts";
import { criLabels, type PodInfo, podInfo, verboseInfo } from "./_labels.ts";
import { criEvent } from "./_events.ts";
import { criContainer } from "./_identity.ts";
import { relistEvents } from "./_relist.ts";
import { CRI_TYPE, criEndpoint } from "./endpoint.ts";
import type { CriOptions } from "./options.ts";

export type { CriOptions } from "./options.ts";

export type { CriInspection } from "./_identity.ts";

const SERVICE = "runtime.v1.RuntimeService";

let protos: ProtoSet | undefined;
// Parsed on first use: importing the module stays cheap.
function runtimeProtos(): ProtoSet {
  return protos ??= loadProtos({ "runtime_v1.proto": RUNTIME_V1_PROTO });
}

// Answers that mean "something speaks here, but not CRI v1": a gRPC server
// without the RuntimeService, or a peer that is no gRPC server at all.
const NOT_CRI = new Set<unknown>([
  grpc.status.UNIMPLEMENTED,
  grpc.status.INTERNAL,
  grpc.status.UNKNOWN,
]);

/**
 * Counters of a {@linkcode CriClient}: the common ones plus CRI's own.
 *
 * @example
 * ```ts ignore
 * console.log(client.stats.calls, client.stats.staleEvents);
 * ```
 */
export interface CriStats extends EngineStats {
  /** Replayed backlog events dropped (see `staleEventGraceMs`); also in `skippedEvents`. */
  staleEvents: number;
  /** Relisting rounds made by the fallback. */
  relists: number;
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
 * await using cri = new CriClient("/run/containerd/containerd.sock");
 * for (const c of await cri.list()) console.log(c.name, c.pid);
 * ```
 */
export class CriClient
  implements EngineClient, Preflighter, SummaryLister, AsyncDisposable {
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
    skippedEvents: 0,
    staleEvents: 0,
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
  #accessChecked = false;
  #grpc: grpc.Client;

  /**
   * Makes a client of the runtime at `endpoint` (a socket path or target;
   * default: `CONTAINER_RUNTIME_ENDPOINT`, else containerd's socket).
   */
  constructor(endpoint?: string, options: CriOptions = {}) {
    const target = criEndpoint(endpoint);
    this.type = options.type ?? CRI_TYPE;
    this.api = socketPath(target);
    this.pid = options.pid ?? 0;
    this.#hostId = options.hostId;
    this.#relist = options.relist ?? false;
    this.#relistIntervalMs = options.relistIntervalMs ?? 1000;
    this.#concurrency = Math.max(1, options.concurrency ?? 8);
    this.#annotationPrefix = options.annotationPrefix === undefined
      ? CRI_ANNOTATION_PREFIX
      : options.annotationPrefix;
    this.#projectLabel = options.projectLabel;
    this.#graceMs = options.staleEventGraceMs ?? 2000;
    this.#packer = options.packer;
    this.client = this.#grpc = new grpc.Client(
      grpcTarget(target),
      grpc.credentials.createInsecure(),
      { ...CHANNEL_OPTIONS, ...options.channelOptions },
    );
  }

  /**
   * Whether the runtime delivers `GetContainerEvents`: `undefined` until a
   * subscription found out; `false` means changes are found by relisting.
   */
  get eventsSupported(): boolean | undefined {
    return this.#eventsSupported;
  }

  #assertOpen(): void {
    if (this.#closer.signal.aborted) {
      throw new ClientClosedError(this.api, { engine: this.type });
    }
    if (!this.#accessChecked) {
      assertSocketAccess(this.api, { engine: this.type });
      this.#accessChecked = true;
    }
  }

  async #call(
    method: string,
    request: Message,
    options: CallOptions,
  ): Promise<Message> {
    this.#assertOpen();
    this.stats.calls++;
    return await unaryCall(
      this.#grpc,
      runtimeProtos().method(SERVICE, method),
      request,
      { signal: options.signal },
    );
  }

  #failure(what: string, err: unknown, signal?: AbortSignal): unknown {
    return grpcFailure(what, this.api, err, { engine: this.type, signal });
  }

  /**
   * Checks that a CRI runtime (API v1) answers; rejects with
   * `NotAnEngineError` for another gRPC server or protocol and with the
   * connection errors of the contract.
   */
  async preflight(options: CallOptions = {}): Promise<void> {
    try {
      await this.#call("Version", { version: "v1" }, options);
    } catch (err) {
      const failure = this.#failure("version", err, options.signal);
      if (NOT_CRI.has((err as { code?: unknown })?.code)) {
        throw new NotAnEngineError(this.api, {
          engine: this.type,
          cause: err,
          detail: "no CRI runtime API v1 answers",
        });
      }
      throw failure;
    }
  }

  /**
   * Lists the running containers and ready pod sandboxes: pods and
   * containers are listed once each and joined in memory; each then needs
   * one verbose status call for its PID (at most `concurrency` at once).
   * Containers that vanish meanwhile are left out.
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
    const work = this.#lookups(pods, containers);
    const found = await mapPool(work, async (lookup, signal) => {
      try {
        return await lookup({ signal });
      } catch (err) {
        if (isGrpcStatus(err, grpc.status.NOT_FOUND)) return null;
        throw this.#failure("list", err, signal);
      }
    }, { concurrency: this.#concurrency, signal: options.signal });
    return found.filter((c): c is Container => c !== null);
  }

  // One status lookup per ready sandbox and running container; refreshes
  // the pod cache.
  #lookups(
    pods: Message,
    containers: Message,
  ): ((options: CallOptions) => Lookup)[] {
    const podMap = new Map<string, PodInfo>();
    const work: ((options: CallOptions) => Lookup)[] = [];
    for (const item of pods.items ?? []) {
      const pod = podInfo(item);
      podMap.set(pod.id, pod);
      if (item.state === "SANDBOX_READY") {
        work.push((options) => this.#sandbox(pod.id, options));
      }
    }
    this.#pods = podMap;
    for (const item of containers.containers ?? []) {
      if (item.state !== "CONTAINER_RUNNING") continue;
      const pod = podMap.get(item.pod_sandbox_id);
      work.push((options) => this.#container(item.id, options, pod));
    }
    return work;
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
    return criContainer(
      { id: pod.id || id, name: pod.name, labels },
      res.info,
      { kind: "sandbox", status, pod },
      { projectLabel: this.#projectLabel, packer: this.#packer },
    );
  }

  async #container(id: string, options: CallOptions, pod?: PodInfo): Lookup {
    const res = await this.#call("ContainerStatus", {
      container_id: id,
      verbose: true,
    }, options);
    const status = res.status;
    if (!status || status.state !== "CONTAINER_RUNNING") return null;
    pod ??= await this.#podOf(status.id || id, res.info, options);
    const name = status.metadata?.name ?? "";
    const labels = criLabels(status, pod, {
      containerName: name,
      annotationPrefix: this.#annotationPrefix,
    });
    return criContainer(
      { id: status.id || id, name, labels },
      res.info,
      { kind: "container", status, pod },
      { projectLabel: this.#projectLabel, packer: this.#packer },
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
    this.#assertOpen();
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
    const context = {
      since,
      graceMs: this.#graceMs,
      noProject: this.#projectLabel === undefined,
      pods: this.#pods,
    };
    try {
      for await (const message of stream) {
        this.#eventsSupported = true;
        this.stats.events++;
        context.pods = this.#pods;
        const event = criEvent(message, context);
        if (event === "malformed" || event === "stale") {
          this.stats.skippedEvents++;
          if (event === "stale") this.stats.staleEvents++;
        } else if (event) yield event;
      }
    } catch (err) {
      if (signal.aborted) return;
      if (isGrpcStatus(err, grpc.status.UNIMPLEMENTED)) {
        // Learnt late: the next subscription relists.
        this.#eventsSupported = false;
      }
      throw new EventStreamEndedError(this.api, {
        engine: this.type,
        cause: err,
        detail: (err as { details?: string })?.details ??
          (err as Error)?.message,
      });
    } finally {
      stream.cancel();
    }
    if (!signal.aborted) {
      throw new EventStreamEndedError(this.api, { engine: this.type });
    }
  }

  /**
   * Lists the running containers and ready pod sandboxes as summaries: the
   * two list calls of `list()`, without its status call per container (CRI
   * has no pause, and a restarted container is a new one with a new ID).
   */
  async listSummaries(options: CallOptions = {}): Promise<ContainerSummary[]> {
    let alive: Set<string>;
    try {
      alive = await this.#alive(options.signal);
    } catch (err) {
      throw this.#failure("list", err, options.signal);
    }
    return Array.from(alive, (id) => ({ id, paused: false }));
  }

  // The IDs of running containers and ready sandboxes: two list calls, no
  // status calls. Also refreshes the pod cache.
  async #alive(signal?: AbortSignal): Promise<Set<string>> {
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
    let baseline: Set<string>;
    try {
      this.stats.relists++;
      baseline = await this.#alive(signal);
    } catch (err) {
      throw this.#failure("relisting", err, signal);
    }
    return relistEvents(baseline, (s) => {
      this.stats.relists++;
      return this.#alive(s);
    }, {
      intervalMs: this.#relistIntervalMs,
      signal,
      project: this.#projectLabel === undefined ? "" : PROJECT_UNKNOWN,
      failure: (err) =>
        new EventStreamEndedError(this.api, {
          engine: this.type,
          cause: err,
          detail: `relisting failed: ${
            (err as { details?: string })?.details ?? (err as Error)?.message
          }`,
        }),
    });
  }

  /**
   * The host name of the runtime's host (local sockets) or the `hostId`
   * option; rejects (naming the flag) when Deno may not read the host name.
   */
  id(_options: CallOptions = {}): Promise<string> {
    if (this.#hostId !== undefined) return Promise.resolve(this.#hostId);
    try {
      return Promise.resolve(Deno.hostname());
    } catch (err) {
      return Promise.reject(
        new Error(
          `cannot tell the ID of the CRI runtime at "${this.api}": the host name is not readable (grant --allow-sys=hostname, or give the hostId option): ${
            (err as Error)?.message
          }`,
          { cause: err },
        ),
      );
    }
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
      this.#closer.abort(
        new ClientClosedError(this.api, { engine: this.type }),
      );
      this.#grpc.close();
    }
    return Promise.resolve();
  }

  /** Same as {@linkcode CriClient.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
