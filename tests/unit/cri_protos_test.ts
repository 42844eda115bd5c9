import { assert, assertEquals } from "../_assert.ts";
import { RUNTIME_V1_PROTO } from "../../protos/cri/_runtime_v1.ts";
import { PROTO_FILE } from "../../protos/cri/_embed.ts";
import { loadProtos } from "../../adapters/_grpc/mod.ts";

Deno.test("cri protos: embedded copy equals runtime_v1.proto", async () => {
  assertEquals(RUNTIME_V1_PROTO, await Deno.readTextFile(PROTO_FILE));
});

Deno.test("cri protos: real package, methods and field numbers", () => {
  const protos = loadProtos({ "runtime_v1.proto": RUNTIME_V1_PROTO });
  const ids = (type: string) =>
    Object.fromEntries(
      Object.values(protos.root.lookupType(type).fields).map((
        f,
      ) => [f.name, f.id]),
    );
  for (
    const m of [
      "Version",
      "ListPodSandbox",
      "PodSandboxStatus",
      "ListContainers",
      "ContainerStatus",
      "GetContainerEvents",
    ]
  ) {
    assertEquals(
      protos.method("runtime.v1.RuntimeService", m).path,
      `/runtime.v1.RuntimeService/${m}`,
    );
  }
  assert(
    protos.method("runtime.v1.RuntimeService", "GetContainerEvents")
      .responseStream,
  );
  assertEquals(ids("runtime.v1.ContainerEventResponse"), {
    container_id: 1,
    container_event_type: 2,
    created_at: 3,
    pod_sandbox_status: 4,
    containers_statuses: 5,
  });
  assertEquals(ids("runtime.v1.Container"), {
    id: 1,
    pod_sandbox_id: 2,
    metadata: 3,
    state: 6,
    created_at: 7,
    labels: 8,
    annotations: 9,
  });
  assertEquals(ids("runtime.v1.ContainerStatus"), {
    id: 1,
    metadata: 2,
    state: 3,
    created_at: 4,
    started_at: 5,
    finished_at: 6,
    labels: 12,
    annotations: 13,
  });
  assertEquals(ids("runtime.v1.PodSandbox"), {
    id: 1,
    metadata: 2,
    state: 3,
    created_at: 4,
    labels: 5,
    annotations: 6,
  });
  assertEquals(ids("runtime.v1.PodSandboxStatus"), {
    id: 1,
    metadata: 2,
    state: 3,
    created_at: 4,
    labels: 7,
    annotations: 8,
  });
  assertEquals(ids("runtime.v1.PodSandboxMetadata"), {
    name: 1,
    uid: 2,
    namespace: 3,
    attempt: 4,
  });
  assertEquals(ids("runtime.v1.VersionResponse"), {
    version: 1,
    runtime_name: 2,
    runtime_version: 3,
    runtime_api_version: 4,
  });
  const eventType = protos.root.lookupEnum("runtime.v1.ContainerEventType");
  assertEquals(eventType.values, {
    CONTAINER_CREATED_EVENT: 0,
    CONTAINER_STARTED_EVENT: 1,
    CONTAINER_STOPPED_EVENT: 2,
    CONTAINER_DELETED_EVENT: 3,
  });
});

Deno.test("cri protos: enum value 0 and zero numbers decode (defaults)", () => {
  const protos = loadProtos({ "runtime_v1.proto": RUNTIME_V1_PROTO });
  const type = protos.root.lookupType("runtime.v1.ContainerEventResponse");
  const bytes = type.encode(type.fromObject({ container_id: "x" })).finish();
  const decoded = protos.decode("runtime.v1.ContainerEventResponse", bytes);
  assertEquals(decoded.container_event_type, "CONTAINER_CREATED_EVENT");
  assertEquals(decoded.created_at, 0);
});
