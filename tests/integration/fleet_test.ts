// The fleet against real engines: an engine started after the fleet (a
// private podman service at a non-standard path) is picked up by periodic
// rediscovery through the process scan, and dropped with exited events for
// its containers when its process goes away.
import { assert, assertEquals } from "../_assert.ts";
import "../../mod.ts";
import { Fleet } from "../../watcher/fleet.ts";
import { integrationTest, waitFor } from "../engines/rig.ts";
import { hasPodman, PODMAN_IMAGE, startPodman } from "../engines/podman.ts";

integrationTest(
  "fleet: a podman service started after the fleet is picked up by periodic rediscovery and dropped with exited events when it stops",
  async (rig) => {
    if (!hasPodman()) {
      if (Deno.env.get("CI") === "true") throw new Error("podman missing");
      console.warn("SKIPPED: podman is not installed");
      return;
    }
    // Only Docker-API engines: the rig's containerd is no subject here.
    const fleet = new Fleet({
      types: ["docker.com"],
      rediscoverIntervalMs: 250,
      probeTimeoutMs: 1000,
      watcher: { backoff: { initialMs: 50, maxMs: 200 } },
    });
    const events: { type: string; id: string; engine: string; pid: number }[] =
      [];
    const sub = fleet.events();
    const reading = (async () => {
      for await (const e of sub) {
        events.push({
          type: e.type,
          id: e.id,
          engine: e.engine.type,
          pid: e.engine.pid,
        });
      }
    })();
    try {
      await fleet.ready;
      // The rig's dockerd was there from the start.
      assert(
        fleet.engines().some((e) => e.engine.api === rig.dockerSocket),
        "the rig's dockerd is not in the fleet",
      );
      await using podman = await startPodman();
      // The service's PID now: podman.pid follows the service's restarts.
      const pid = podman.pid;
      const id = await podman.docker(
        "run",
        "-d",
        "--name",
        `fleet-${crypto.randomUUID().slice(0, 8)}`,
        PODMAN_IMAGE,
      );
      await waitFor(
        () =>
          fleet.containers().some((c) =>
            c.container.id === id && c.engine.pid === pid
          ),
        { what: "podman's container in the fleet", timeoutMs: 20_000 },
      );
      const member = fleet.engines().find((e) => e.engine.pid === pid)!;
      assertEquals(member.engine.type, "podman.io");
      assertEquals(
        await Deno.realPath(member.engine.api),
        await Deno.realPath(podman.socket),
      );
      const found = fleet.lastDiscovery.engines.find((e) => e.pid === pid);
      assertEquals(found?.source, "process");
      await waitFor(
        () => events.some((e) => e.type === "started" && e.id === id),
        { what: "podman container's started event" },
      );

      // The API service goes away (its containers live on, unwatched): the
      // fleet drops it and reports its containers exited.
      await podman.stopService("SIGKILL");
      await waitFor(
        () => !fleet.engines().some((e) => e.engine.pid === pid),
        { what: "podman dropped from the fleet", timeoutMs: 20_000 },
      );
      assertEquals(
        events.filter((e) => e.id === id).map((e) =>
          `${e.type}@${e.engine}:${e.pid === pid}`
        ),
        ["started@podman.io:true", "exited@podman.io:true"],
      );
      assert(!fleet.containers().some((c) => c.container.id === id));
      // The rig's dockerd was not disturbed.
      assert(fleet.engines().some((e) => e.engine.api === rig.dockerSocket));
    } finally {
      await fleet.close();
      await reading;
    }
  },
);
