// The adaptors never call an API that changes engine state: every call
// each adaptor makes through a full watch (probe, sync, events, inspect,
// id, version, close) is recorded on the wire and checked against a
// read-only list.
import http from "node:http";
import * as grpc from "@grpc/grpc-js";
import { assert, assertEquals } from "../_assert.ts";
import "../../mod.ts";
import {
  type EngineClient,
  type EngineOptions,
  engineRegistry,
} from "../../engineclient/mod.ts";
import { Watcher } from "../../watcher/mod.ts";
import { CriTestClient } from "../engines/cri_client.ts";
import { Ctr } from "../engines/containerd.ts";
import { DockerCli } from "../engines/docker.ts";
import { PodmanCli } from "../engines/podman.ts";
import { type EngineKind, engineTest, uniq } from "../engines/rig.ts";
import { EventRecorder, type Marker, watchReady } from "./_recorder.ts";

// Reads only. The one write an adaptor makes is checked on its own below:
// containerd's subscription confirmation publishes one empty event on a
// topic of ours (/whalewatcher/subscribed/<uuid>); no container, task,
// image or namespace changes. With `confirmSubscription: false` it is gone.
const PUBLISH = "/containerd.services.events.v1.Events/Publish";
const GRPC_ALLOWED = new Set([
  "/containerd.services.version.v1.Version/Version",
  "/containerd.services.introspection.v1.Introspection/Server",
  "/containerd.services.namespaces.v1.Namespaces/List",
  "/containerd.services.containers.v1.Containers/List",
  "/containerd.services.containers.v1.Containers/Get",
  "/containerd.services.tasks.v1.Tasks/List",
  "/containerd.services.tasks.v1.Tasks/Get",
  "/containerd.services.events.v1.Events/Subscribe",
  "/runtime.v1.RuntimeService/Version",
  "/runtime.v1.RuntimeService/ListContainers",
  "/runtime.v1.RuntimeService/ListPodSandbox",
  "/runtime.v1.RuntimeService/ContainerStatus",
  "/runtime.v1.RuntimeService/PodSandboxStatus",
  "/runtime.v1.RuntimeService/GetContainerEvents",
]);

const DOCKER_ALLOWED = [
  /^GET \/_ping$/,
  /^GET \/info$/,
  /^GET \/version$/,
  /^GET \/containers\/json(\?.*)?$/,
  /^GET \/containers\/[^/]+\/json(\?.*)?$/,
  /^GET \/events(\?.*)?$/,
];

/**
 * Records the calls made while `fn` runs; the requests of containerd's
 * Publish calls go to `published`, with their namespace.
 */
async function recording(
  fn: () => Promise<void>,
  options: { except?: unknown; published?: unknown[] } = {},
): Promise<string[]> {
  const calls: string[] = [];
  const proto = grpc.Client.prototype as unknown as Record<
    string,
    (...args: unknown[]) => unknown
  >;
  const unary = proto.makeUnaryRequest;
  const stream = proto.makeServerStreamRequest;
  const request = http.request;
  proto.makeUnaryRequest = function (this: unknown, ...args: unknown[]) {
    if (this !== options.except) calls.push(String(args[0]));
    if (args[0] === PUBLISH) {
      const namespace = (args[4] as grpc.Metadata).get("containerd-namespace");
      options.published?.push({ ...args[3] as object, namespace });
    }
    return unary.apply(this, args);
  };
  proto.makeServerStreamRequest = function (this: unknown, ...args: unknown[]) {
    if (this !== options.except) calls.push(String(args[0]));
    return stream.apply(this, args);
  };
  // deno-lint-ignore no-explicit-any
  (http as any).request = function (...args: any[]) {
    const o = typeof args[0] === "object" ? args[0] : args[1] ?? {};
    calls.push(`${o.method ?? "GET"} ${o.path}`);
    // deno-lint-ignore no-explicit-any
    return (request as any).apply(http, args);
  };
  try {
    await fn();
  } finally {
    proto.makeUnaryRequest = unary;
    proto.makeServerStreamRequest = stream;
    // deno-lint-ignore no-explicit-any
    (http as any).request = request;
  }
  return calls;
}

/**
 * A full watch of one engine while a container starts (and is inspected)
 * and stops.
 */
async function fullWatch(
  type: string,
  endpoint: string,
  container: Marker,
  options: EngineOptions = {},
): Promise<void> {
  const adapter = engineRegistry.get(type);
  assert(await adapter.probe!(endpoint));
  const engine: EngineClient = await adapter.create(endpoint, options);
  await using watcher = new Watcher(engine);
  await using _watch = await watchReady(watcher);
  const rec = new EventRecorder(watcher);
  const id = await container.start();
  await rec.waitFor([id], 1);
  await container.stop(id);
  await rec.waitFor([id], 2);
  await watcher.id();
  await watcher.version();
  await engine.inspect(id).catch(() => {});
  for (const c of watcher.portfolio.containers()) await engine.inspect(c.id);
  await rec.stop();
}

for (const kind of ["docker", "podman"] as EngineKind[]) {
  engineTest(
    kind,
    "read-only: every adaptor call on the wire is a read",
    async (engine) => {
      await using cli = kind === "podman"
        ? new PodmanCli(engine)
        : DockerCli.of(engine);
      // The test's own calls (docker processes) are not recorded.
      const calls = await recording(() =>
        fullWatch("docker.com", engine.socket, cli.marker())
      );
      assertEquals(
        calls.filter((c) => !DOCKER_ALLOWED.some((re) => re.test(c))),
        [],
      );
      assert(calls.some((c) => c.startsWith("GET /events")));
    },
  );
}

engineTest(
  "containerd",
  "read-only: every adaptor call on the wire is a read",
  async (engine) => {
    await using ctr = new Ctr(engine);
    const published: unknown[] = [];
    const calls = await recording(
      () => fullWatch("containerd.io", engine.socket, ctr.marker("default")),
      { published },
    );
    // The one write: one empty event per subscription on a topic of ours.
    assert(published.length >= 1);
    for (const p of published) {
      const { topic, event, namespace } = p as {
        topic: string;
        event: { type_url: string; value: Uint8Array };
        namespace: string[];
      };
      assert(/^\/whalewatcher\/subscribed\/[0-9a-f-]{36}$/.test(topic), topic);
      assertEquals(
        event.type_url,
        "types.googleapis.com/google.protobuf.Empty",
      );
      assertEquals(event.value.length, 0);
      assertEquals(namespace, ["default"]);
    }
    assertEquals(
      calls.filter((c) => c !== PUBLISH && !GRPC_ALLOWED.has(c)),
      [],
    );
    assert(calls.includes("/containerd.services.events.v1.Events/Subscribe"));
    // Strictly read-only when asked: no Publish at all, and it still works.
    const strict = await recording(() =>
      fullWatch(
        "containerd.io",
        engine.socket,
        ctr.marker("default"),
        { confirmSubscription: false },
      )
    );
    assertEquals(strict.filter((c) => !GRPC_ALLOWED.has(c)), []);
    assert(!strict.includes(PUBLISH));
  },
);

engineTest(
  "cri",
  "read-only: every adaptor call on the wire is a read",
  async (engine) => {
    await using cri = CriTestClient.of(engine);
    const pod = await cri.runPod(uniq("ro"));
    // The CRI test client's own calls are not recorded.
    const calls = await recording(
      () => fullWatch("cri", engine.socket, cri.marker(pod)),
      { except: cri.client },
    );
    assertEquals(calls.filter((c) => !GRPC_ALLOWED.has(c)), []);
    // Asked for where UNIMPLEMENTED too (then the adaptor relists).
    assert(calls.includes("/runtime.v1.RuntimeService/GetContainerEvents"));
  },
);
