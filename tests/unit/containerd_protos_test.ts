import { assertEquals } from "../_assert.ts";
import { CONTAINERD_PROTOS } from "../../protos/containerd/_protos.ts";
import { readProtos } from "../../protos/containerd/_embed.ts";
import { loadProtos } from "../../adapters/_grpc/mod.ts";

Deno.test("containerd protos: embedded copy equals the .proto files", async () => {
  assertEquals({ ...CONTAINERD_PROTOS }, await readProtos());
});

Deno.test("containerd protos: real package names and field numbers", () => {
  const { root } = loadProtos(CONTAINERD_PROTOS);
  const ids = (type: string) =>
    Object.fromEntries(
      Object.values(root.lookupType(type).fields).map((f) => [f.name, f.id]),
    );
  assertEquals(ids("containerd.services.events.v1.Envelope"), {
    timestamp: 1,
    namespace: 2,
    topic: 3,
    event: 4,
  });
  assertEquals(ids("containerd.events.TaskExit"), {
    container_id: 1,
    id: 2,
    pid: 3,
    exit_status: 4,
    exited_at: 5,
  });
  assertEquals(ids("containerd.events.TaskStart"), { container_id: 1, pid: 2 });
  assertEquals(ids("containerd.v1.types.Process"), {
    container_id: 1,
    id: 2,
    pid: 3,
    status: 4,
  });
  assertEquals(ids("containerd.services.introspection.v1.ServerResponse"), {
    uuid: 1,
    pid: 2,
    pidns: 3,
  });
  assertEquals(
    root.lookupEnum("containerd.v1.types.Status").values,
    {
      UNKNOWN: 0,
      CREATED: 1,
      RUNNING: 2,
      STOPPED: 3,
      PAUSED: 4,
      PAUSING: 5,
    },
  );
});

Deno.test("containerd protos: decode fills defaults and names enums", () => {
  const protos = loadProtos(CONTAINERD_PROTOS);
  const Process = protos.root.lookupType("containerd.v1.types.Process");
  const bytes = Process.encode(Process.fromObject({ id: "web", pid: 7 }))
    .finish();
  assertEquals(protos.decode("containerd.v1.types.Process", bytes), {
    container_id: "",
    id: "web",
    pid: 7,
    status: "UNKNOWN",
  });
});
