// The fleet against real engines: an engine started after the fleet (the
// rig's podman service, at a non-standard path) is picked up by periodic
// rediscovery through the process scan, and dropped with exited events for
// its containers when its process goes away.
import { assert, assertEquals } from "../_assert.ts";
import "../../mod.ts";
import { Fleet } from "../../watcher/fleet.ts";
import {
  enginePid,
  engineTest,
  sameFile,
  startEngine,
  stopEngine,
  uniq,
  waitFor,
} from "../engines/rig.ts";
import { PodmanCli } from "../engines/podman.ts";
import { EventRecorder } from "./_recorder.ts";

engineTest(
  "podman",
  "fleet: a podman service started after the fleet is picked up by periodic rediscovery and dropped with exited events when it stops",
  async (engine, rig) => {
    await using podman = new PodmanCli(engine);
    // Its containers live on without the service; it comes back after the
    // fleet is ready.
    const id = await podman.run({ name: uniq("fleet") });
    await stopEngine(engine);
    // Only Docker-API engines: the rig's containerds are no subject here.
    await using fleet = new Fleet({
      types: ["docker.com"],
      rediscoverIntervalMs: 250,
      probeTimeoutMs: 1000,
      watcher: { backoff: { initialMs: 50, maxMs: 200 } },
    });
    await using rec = new EventRecorder(fleet);
    try {
      await fleet.ready;
      // The rig's dockerd was there from the start.
      assert(
        fleet.engines().some((e) => e.engine.api === rig.dockerSocket),
        "the rig's dockerd is not in the fleet",
      );
      assert(!fleet.containers().some((c) => c.container.id === id));
      await startEngine(engine);
      const pid = enginePid(engine);
      await waitFor(
        () =>
          fleet.containers().some((c) =>
            c.container.id === id && c.engine.pid === pid
          ),
        { what: "podman's container in the fleet" },
      );
      const member = fleet.engines().find((e) => e.engine.pid === pid)!;
      assertEquals(member.engine.type, "podman.io");
      assert(
        sameFile(member.engine.api, engine.socket),
        `${member.engine.api} is not ${engine.socket}`,
      );
      const found = fleet.lastDiscovery.engines.find((e) => e.pid === pid);
      assertEquals(found?.source, "process");
      await rec.waitFor([id], 1);

      // The API service goes away (its containers live on, unwatched): the
      // fleet drops it and reports its containers exited.
      await stopEngine(engine, { signal: "SIGKILL" });
      await waitFor(
        () => !fleet.engines().some((e) => e.engine.pid === pid),
        { what: "podman dropped from the fleet" },
      );
      await rec.waitFor([id], 2);
      assertEquals(
        rec.events.filter((e) => e.id === id).map((e) =>
          `${e.type}@${e.engine.type}:${e.engine.pid === pid}`
        ),
        ["started@podman.io:true", "exited@podman.io:true"],
      );
      assert(!fleet.containers().some((c) => c.container.id === id));
      // The rig's dockerd was not disturbed.
      assert(fleet.engines().some((e) => e.engine.api === rig.dockerSocket));
    } finally {
      await startEngine(engine);
    }
  },
);
