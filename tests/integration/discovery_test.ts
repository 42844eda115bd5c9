// Discovery and the fleet against the rig's engines, whose sockets are at
// non-standard paths: only the process scan can find them. The sid engines
// run in a chroot: discovery reaches their sockets through their process's
// root (`/proc/<pid>/root/…`), so sockets are compared as files.
import { assert, assertEquals } from "../_assert.ts";
import "../../mod.ts";
import "../../docker.ts";
import { discoverEngines, engineCandidates, Fleet } from "../../mod.ts";
import { EngineRegistry, engineRegistry } from "../../engineclient/mod.ts";
import {
  ENGINE_TYPE,
  type EngineKind,
  enginePid,
  engineTest,
  integrationTest,
  primary,
  sameFile,
  served,
  startEngine,
  stopEngine,
  uniq,
} from "../engines/rig.ts";
import { DockerCli } from "../engines/docker.ts";
import { EventRecorder } from "./_recorder.ts";

const dockerdPid = () => enginePid(primary("docker"));
const containerdPid = () => enginePid(primary("containerd"));

for (const kind of Object.keys(ENGINE_TYPE) as EngineKind[]) {
  engineTest(
    kind,
    "discovery: found by the process scan, once, with its PID",
    async (engine) => {
      const { engines, warnings } = await discoverEngines();
      assertEquals(warnings, []);
      const found = engines.filter((e) =>
        e.type === ENGINE_TYPE[kind] && sameFile(e.endpoint, engine.socket)
      );
      assertEquals(found.length, 1, JSON.stringify(engines));
      assertEquals(found[0].pid, enginePid(engine));
      assertEquals(found[0].source, "process");
      // No ttrpc or shim sockets were taken for engines.
      assert(engines.every((e) => !e.endpoint.endsWith(".ttrpc")));
    },
  );
}

integrationTest(
  "discovery: a types filter keeps only engines of those types",
  async (rig) => {
    const cri = await discoverEngines({ types: ["cri"] });
    assert(cri.engines.length > 0);
    assert(cri.engines.every((e) => e.type === "cri"));
    assertEquals(
      cri.engines.filter((e) => e.endpoint === rig.containerdSocket).map((
        e,
      ) => [e.type, e.pid]),
      [["cri", containerdPid()]],
    );
    // A reported type that is no registry type: the rig's dockerd is
    // probed and rejected as excluded, naming what it serves.
    const podman = await discoverEngines({
      endpoints: [rig.dockerSocket],
      explicitOnly: true,
      types: ["podman.io"],
    });
    assertEquals(podman.engines, []);
    assertEquals(
      podman.rejected.map((r) => [r.endpoint, r.reason]),
      [[rig.dockerSocket, "excluded"]],
    );
    assert(podman.rejected[0].message.includes("docker.com"));
  },
);

integrationTest(
  "discovery: the /var/run and /run paths of one socket are one candidate, with the PID from the scan",
  async (rig) => {
    const viaVarRun = rig.dockerSocket.replace(/^\/run\//, "/var/run/");
    assert(viaVarRun !== rig.dockerSocket, "the rig is not under /run");
    assertEquals(
      await Deno.realPath(viaVarRun),
      await Deno.realPath(rig.dockerSocket),
    );
    const candidates = await engineCandidates({ endpoints: [viaVarRun] });
    assertEquals(
      candidates.filter((c) =>
        c.endpoint === viaVarRun || c.endpoint === rig.dockerSocket
      ),
      [{
        endpoint: viaVarRun,
        source: "explicit",
        pid: dockerdPid(),
        types: [],
      }],
    );
  },
);

integrationTest(
  "discovery: with explicit endpoints only, nothing else is probed",
  async (rig) => {
    // The built-in adaptors, with their probes recorded.
    const probed: string[] = [];
    const registry = new EngineRegistry();
    for (const adapter of engineRegistry.adapters()) {
      registry.register({
        ...adapter,
        probe: (endpoint, options) => {
          probed.push(`${adapter.type} ${endpoint}`);
          return adapter.probe!(endpoint, options);
        },
      });
    }
    const found = await discoverEngines({
      endpoints: [rig.dockerSocket],
      explicitOnly: true,
      registry,
    });
    assertEquals(found.engines.map((e) => [e.type, e.endpoint, e.source]), [
      ["docker.com", rig.dockerSocket, "explicit"],
    ]);
    assertEquals(found.rejected, []);
    assertEquals(
      [...new Set(probed.map((p) => p.split(" ")[1]))],
      [rig.dockerSocket],
    );
    assertEquals(
      probed.length,
      registry.adapters().filter((a) => a.probe).length,
    );
  },
);

engineTest(
  "docker",
  "fleet: watches every engine; a stopped engine is dropped with exited events and picked up again when it returns",
  async (dockerd) => {
    await using cli = DockerCli.of(dockerd);
    const id = await cli.run({ name: uniq("fleet") });
    const containerd = served("containerd", dockerd.containerd!);
    await using fleet = new Fleet({ probeTimeoutMs: 1000 });
    await fleet.ready;
    const types = fleet.engines().filter((e) =>
      sameFile(e.engine.api, dockerd.socket) ||
      sameFile(e.engine.api, containerd.socket)
    ).map((e) => e.engine.type).sort();
    assertEquals(types, ["containerd.io", "cri", "docker.com"]);
    const mine = fleet.containers().find((c) => c.container.id === id);
    assert(mine, "docker container missing from the fleet");
    assertEquals(mine.engine.type, "docker.com");
    const pid = enginePid(dockerd);
    assertEquals(mine.engine.pid, pid);

    await using rec = new EventRecorder(fleet);
    try {
      await stopEngine(dockerd);
      await fleet.rediscover();
      assert(!fleet.engines().some((e) => e.engine.pid === pid));
      await rec.waitFor([id], 1);
      await startEngine(dockerd);
      await fleet.rediscover();
      await rec.waitFor([id], 2);
      assertEquals(
        rec.events.filter((e) => e.id === id).map((e) =>
          `${e.type}@${e.engine.type}`
        ),
        ["exited@docker.com", "started@docker.com"],
      );
    } finally {
      await startEngine(dockerd);
    }
  },
);
