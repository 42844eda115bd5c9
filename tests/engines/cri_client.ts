// The CRI (runtime.v1) TEST client: creates, starts, stops and removes
// host-network pods and containers on the rig, and reads the runtime's
// truth. State-changing calls go through tests/engines/cri_test.proto
// (test-only); reads through the adaptor's own proto. The production CRI
// adaptor never changes engine state; this does.
import * as grpc from "@grpc/grpc-js";
import {
  grpcTarget,
  isGrpcStatus,
  loadProtos,
  type Message,
  serverStream,
  unaryCall,
} from "../../adapters/_grpc/mod.ts";
import { RUNTIME_V1_PROTO } from "../../protos/cri/_runtime_v1.ts";
import { type EngineInstance, need, uniq } from "./rig.ts";
import type { Truth } from "./truth.ts";

const SERVICE = "runtime.v1.RuntimeService";
const writing = loadProtos({
  "cri_test.proto": Deno.readTextFileSync(
    new URL("./cri_test.proto", import.meta.url),
  ),
});
const reading = loadProtos({ "runtime_v1.proto": RUNTIME_V1_PROTO });

/** A CRI test client; `close()` (or `await using`) removes its pods. */
export class CriTestClient implements AsyncDisposable {
  readonly client: grpc.Client;
  readonly #image: string;
  readonly #logs: string;
  readonly #cgroupParent: string;
  readonly #pods = new Map<string, Message>();
  readonly #run = crypto.randomUUID().slice(0, 8);

  /**
   * `image`: the containerd image ref; `logDir`: where pods log;
   * `cgroupParent`: the cgroup every pod's containers go below.
   */
  constructor(
    endpoint: string,
    options: { image: string; logDir: string; cgroupParent: string },
  ) {
    // Reconnects within half a second of an engine's restart (grpc-js
    // backs off up to minutes by default).
    this.client = new grpc.Client(
      grpcTarget(endpoint),
      grpc.credentials.createInsecure(),
      {
        "grpc.initial_reconnect_backoff_ms": 100,
        "grpc.max_reconnect_backoff_ms": 500,
      },
    );
    this.#image = options.image;
    this.#logs = options.logDir;
    this.#cgroupParent = options.cgroupParent;
  }

  /** A client of one of the rig's CRI engine instances. */
  static of(engine: EngineInstance): CriTestClient {
    if (engine.kind !== "cri") throw new Error(`${engine.label} is no CRI`);
    const rig = need();
    return new CriTestClient(engine.socket, {
      image: rig.ctrImage,
      logDir: `${rig.dir}/cri-logs`,
      cgroupParent: engine.cgroupParent!,
    });
  }

  /** One call; retried while the channel reconnects after an engine restart. */
  async call(method: string, request: Message): Promise<Message> {
    const set = method in (reading.definition[SERVICE] as object)
      ? reading
      : writing;
    const deadline = performance.now() + 10_000;
    while (true) {
      try {
        return await unaryCall(
          this.client,
          set.method(SERVICE, method),
          request,
          { signal: AbortSignal.timeout(30_000) },
        );
      } catch (err) {
        // Calls that found no connection were never sent; a containerd
        // that just started answers before its CRI plugin is up.
        const restarting = isGrpcStatus(err, grpc.status.UNAVAILABLE) ||
          (isGrpcStatus(err, grpc.status.UNKNOWN) &&
            /server is not initialized yet/.test(String(err)));
        if (!restarting || performance.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Runs a host-network pod sandbox; returns its ID. */
  async runPod(
    name: string,
    options: {
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
      namespace?: string;
    } = {},
  ): Promise<string> {
    const config = {
      metadata: {
        name,
        uid: `uid-${name}-${this.#run}`,
        namespace: options.namespace ?? "wwtest",
      },
      log_directory: `${this.#logs}/${name}-${this.#run}`,
      labels: options.labels ?? {},
      annotations: options.annotations ?? {},
      linux: {
        cgroup_parent: this.#cgroupParent,
        security_context: {
          namespace_options: { network: "NODE", pid: "CONTAINER" },
        },
      },
    };
    const res = await this.call("RunPodSandbox", { config });
    this.#pods.set(res.pod_sandbox_id, config);
    return res.pod_sandbox_id;
  }

  /** Creates a container (`sleep infinity` unless told otherwise). */
  async createContainer(
    pod: string,
    name: string,
    options: { labels?: Record<string, string>; command?: string[] } = {},
  ): Promise<string> {
    const res = await this.call("CreateContainer", {
      pod_sandbox_id: pod,
      config: {
        metadata: { name },
        image: { image: this.#image },
        command: options.command ?? ["/bin/sleep", "infinity"],
        labels: options.labels ?? {},
        annotations: { "test.container": name },
        log_path: `${name}.log`,
      },
      sandbox_config: this.#pods.get(pod),
    });
    return res.container_id;
  }

  /** Creates and starts a container; returns its ID. */
  async runContainer(
    pod: string,
    name: string,
    options: { labels?: Record<string, string>; command?: string[] } = {},
  ): Promise<string> {
    const id = await this.createContainer(pod, name, options);
    await this.startContainer(id);
    return id;
  }

  async startContainer(id: string): Promise<void> {
    await this.call("StartContainer", { container_id: id });
  }

  async stopContainer(id: string): Promise<void> {
    await this.call("StopContainer", { container_id: id, timeout: 0 });
  }

  async removeContainer(id: string): Promise<void> {
    await this.call("RemoveContainer", { container_id: id });
  }

  async stopPod(id: string): Promise<void> {
    await this.call("StopPodSandbox", { pod_sandbox_id: id });
  }

  /** Stops and removes a pod with all its containers. */
  async removePod(id: string): Promise<void> {
    await this.call("StopPodSandbox", { pod_sandbox_id: id });
    await this.call("RemovePodSandbox", { pod_sandbox_id: id });
    this.#pods.delete(id);
  }

  /** PID of a container from its verbose status. */
  async containerPid(id: string): Promise<number> {
    const res = await this.call("ContainerStatus", {
      container_id: id,
      verbose: true,
    });
    return Number(JSON.parse(res.info?.info ?? "{}").pid ?? 0);
  }

  /** PID of a pod sandbox from its verbose status. */
  async podPid(id: string): Promise<number> {
    const res = await this.call("PodSandboxStatus", {
      pod_sandbox_id: id,
      verbose: true,
    });
    return Number(JSON.parse(res.info?.info ?? "{}").pid ?? 0);
  }

  /** IDs of the running containers. */
  async runningContainers(): Promise<string[]> {
    const res = await this.call("ListContainers", {});
    return (res.containers as Message[])
      .filter((c) => c.state === "CONTAINER_RUNNING")
      .map((c) => c.id as string);
  }

  /** IDs of all running containers and ready sandboxes. */
  async alive(): Promise<Set<string>> {
    const pods = await this.call("ListPodSandbox", {});
    const ids = new Set<string>();
    for (const p of pods.items) if (p.state === "SANDBOX_READY") ids.add(p.id);
    for (const id of await this.runningContainers()) ids.add(id);
    return ids;
  }

  /**
   * The runtime's truth: running containers and ready sandboxes with their
   * PIDs (CRI has no pause). One that ends meanwhile is left out.
   */
  async truth(): Promise<Truth> {
    const pods = await this.call("ListPodSandbox", {});
    const truth: Truth = new Map();
    const add = async (id: string, pid: Promise<number>) => {
      const p = await pid.catch(() => 0);
      if (p > 0) truth.set(id, { pid: p, paused: false });
    };
    for (const p of pods.items as Message[]) {
      if (p.state === "SANDBOX_READY") await add(p.id, this.podPid(p.id));
    }
    for (const id of await this.runningContainers()) {
      await add(id, this.containerPid(id));
    }
    return truth;
  }

  /**
   * A marker container in a pod: started after an action and stopped, its
   * events come after every event the action caused.
   */
  marker(
    pod: string,
  ): { start(): Promise<string>; stop(id: string): Promise<void> } {
    return {
      start: () => this.runContainer(pod, uniq("marker")),
      stop: async (id) => {
        await this.stopContainer(id);
        await this.removeContainer(id);
      },
    };
  }

  /** The raw GetContainerEvents stream. */
  events(signal: AbortSignal): AsyncIterableIterator<Message> {
    return serverStream(
      this.client,
      reading.method(SERVICE, "GetContainerEvents"),
      {},
      { signal },
    );
  }

  /** Removes every pod this client made (with their containers). */
  async close(): Promise<void> {
    try {
      for (const id of [...this.#pods.keys()]) {
        await this.call("StopPodSandbox", { pod_sandbox_id: id }).catch(
          () => {},
        );
        await this.call("RemovePodSandbox", { pod_sandbox_id: id }).catch(
          () => {},
        );
      }
      this.#pods.clear();
    } finally {
      this.client.close();
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
