import { assertEquals } from "../_assert.ts";
import {
  displayId,
  joinContainersAndTasks,
  parseDisplayId,
} from "../../adapters/containerd/_identity.ts";
import {
  anyTypeName,
  taskTopicFilters,
  toContainerEvent,
} from "../../adapters/containerd/_events.ts";
import { PROJECT_UNKNOWN } from "../../engineclient/mod.ts";

Deno.test("containerd identity: display IDs round-trip", () => {
  assertEquals(displayId("default", "web"), "web");
  assertEquals(displayId("team", "web"), "team/web");
  assertEquals(parseDisplayId("web"), { namespace: "default", id: "web" });
  assertEquals(parseDisplayId("team/web"), { namespace: "team", id: "web" });
});

Deno.test("containerd identity: join keeps alive tasks only", () => {
  const records = [
    {
      id: "a",
      labels: { "nerdctl/name": "web", "com.docker.compose.project": "p" },
    },
    { id: "b" },
    { id: "c" },
    { id: "d" },
    { id: "e" },
  ];
  const tasks = [
    { container_id: "", id: "a", pid: 1, status: "RUNNING" },
    { container_id: "b", id: "b", pid: 2, status: "PAUSED" },
    { container_id: "c", id: "", pid: 3, status: "PAUSING" },
    { container_id: "", id: "d", pid: 0, status: "STOPPED" },
    { container_id: "", id: "x", pid: 9, status: "RUNNING" }, // no record
  ];
  const got = joinContainersAndTasks("ns", records, tasks).map((c) => ({
    id: c.id,
    name: c.name,
    pid: c.pid,
    paused: c.paused,
    project: c.project,
  }));
  assertEquals(got, [
    { id: "ns/a", name: "ns/web", pid: 1, paused: false, project: "p" },
    { id: "ns/b", name: "ns/b", pid: 2, paused: true, project: "" },
    { id: "ns/c", name: "ns/c", pid: 3, paused: true, project: "" },
  ]);
  assertEquals(
    joinContainersAndTasks("default", records.slice(0, 1), tasks)[0].name,
    "web",
  );
});

Deno.test("containerd events: mapping, exec exits and timestamps", () => {
  const ts = { seconds: 1700000000, nanos: 123_456_789 };
  assertEquals(
    toContainerEvent({
      namespace: "default",
      topic: "/tasks/start",
      timestamp: ts,
    }, {
      container_id: "web",
      pid: 4,
    }),
    {
      type: "started",
      id: "web",
      project: PROJECT_UNKNOWN,
      timestamp: 1700000000123,
    },
  );
  assertEquals(
    toContainerEvent({ namespace: "ns", topic: "/tasks/exit", timestamp: ts }, {
      container_id: "web",
      id: "web",
    })?.type,
    "exited",
  );
  assertEquals(
    toContainerEvent({ namespace: "ns", topic: "/tasks/exit", timestamp: ts }, {
      container_id: "web",
      id: "exec-1",
    }),
    undefined,
  );
  assertEquals(
    toContainerEvent({ namespace: "ns", topic: "/tasks/paused" }, {
      container_id: "web",
    })?.id,
    "ns/web",
  );
  assertEquals(
    toContainerEvent({ namespace: "ns", topic: "/tasks/resumed" }, {
      container_id: "web",
    })?.type,
    "unpaused",
  );
  assertEquals(
    toContainerEvent({ namespace: "ns", topic: "/tasks/delete" }, {
      container_id: "web",
    }),
    undefined,
  );
  assertEquals(
    anyTypeName("containerd.events.TaskStart"),
    "containerd.events.TaskStart",
  );
  assertEquals(
    anyTypeName("types.googleapis.com/containerd.events.TaskStart"),
    "containerd.events.TaskStart",
  );
  assertEquals(taskTopicFilters(), [
    'topic=="/tasks/start"',
    'topic=="/tasks/exit"',
    'topic=="/tasks/paused"',
    'topic=="/tasks/resumed"',
  ]);
});
