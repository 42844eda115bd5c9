// A small CRI (runtime.v1) TEST client on tests/engines/cri_test.proto, to
// create, start, stop and remove host-network pods and containers on the
// rig. The production CRI adaptor never changes engine state; this does.
import * as grpc from "@grpc/grpc-js";
import {
  grpcTarget,
  loadProtos,
  type Message,
  serverStream,
  unaryCall,
} from "../../adapters/_grpc/mod.ts";

const SERVICE = "runtime.v1.RuntimeService";
const protos = loadProtos({
  "cri_test.proto": Deno.readTextFileSync(
    new URL("./cri_test.proto", import.meta.url),
  ),
});

/** A pod as the tests made it. */
export interface TestPod {
  id: string;
  config: Message;
}

/** A CRI test client; `close()` it (or `await using`). */
export class CriTestClient implements AsyncDisposable {
  readonly client: grpc.Client;
  #image: string;

  constructor(endpoint: string, options: { image: string }) {
    this.client = new grpc.Client(
      grpcTarget(endpoint),
      grpc.credentials.createInsecure(),
    );
    this.#image = options.image;
  }

  call(name: string, request: Message): Promise<Message> {
    return unaryCall(this.client, protos.method(SERVICE, name), request, {
      signal: AbortSignal.timeout(30_000),
    });
  }

  /** Runs a host-network pod sandbox. */
  async runPod(
    name: string,
    options: {
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
      namespace?: string;
    } = {},
  ): Promise<TestPod> {
    const config = {
      metadata: {
        name,
        uid: crypto.randomUUID(),
        namespace: options.namespace ?? "wwtest",
        attempt: 0,
      },
      labels: options.labels ?? {},
      annotations: options.annotations ?? {},
      linux: {
        security_context: { namespace_options: { network: "NODE" } },
      },
    };
    const res = await this.call("RunPodSandbox", { config });
    return { id: res.pod_sandbox_id, config };
  }

  /** Creates a container (running `sleep infinity` unless told otherwise). */
  async createContainer(
    pod: TestPod,
    name: string,
    options: { labels?: Record<string, string>; command?: string[] } = {},
  ): Promise<string> {
    const res = await this.call("CreateContainer", {
      pod_sandbox_id: pod.id,
      config: {
        metadata: { name, attempt: 0 },
        image: { image: this.#image },
        command: options.command ?? ["/bin/sleep", "infinity"],
        labels: options.labels ?? {},
      },
      sandbox_config: pod.config,
    });
    return res.container_id;
  }

  async startContainer(id: string): Promise<void> {
    await this.call("StartContainer", { container_id: id });
  }

  /** Creates and starts a container; returns its ID. */
  async runContainer(
    pod: TestPod,
    name: string,
    options: { labels?: Record<string, string>; command?: string[] } = {},
  ): Promise<string> {
    const id = await this.createContainer(pod, name, options);
    await this.startContainer(id);
    return id;
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
  }

  /** PID of a container from its verbose status (0 when none). */
  async containerPid(id: string): Promise<number> {
    const res = await this.call("ContainerStatus", {
      container_id: id,
      verbose: true,
    });
    return Number(JSON.parse(res.info?.info ?? "{}").pid ?? 0);
  }

  /** PID of a pod sandbox from its verbose status (0 when none). */
  async podPid(id: string): Promise<number> {
    const res = await this.call("PodSandboxStatus", {
      pod_sandbox_id: id,
      verbose: true,
    });
    return Number(JSON.parse(res.info?.info ?? "{}").pid ?? 0);
  }

  /** IDs of the running containers. */
  async runningContainers(): Promise<string[]> {
    const res = await this.call("ListContainers", {
      filter: { state: { state: "CONTAINER_RUNNING" } },
    });
    return (res.containers as Message[]).map((c) => c.id as string);
  }

  /** The raw GetContainerEvents stream. */
  events(signal: AbortSignal): AsyncIterableIterator<Message> {
    return serverStream(
      this.client,
      protos.method(SERVICE, "GetContainerEvents"),
      {},
      { signal },
    );
  }

  close(): Promise<void> {
    this.client.close();
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
