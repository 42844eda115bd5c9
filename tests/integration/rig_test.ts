// The rig itself: each engine runs containers, and the engines see the same
// processes.
import { assert, assertEquals } from "../_assert.ts";
import { CriTestClient } from "../engines/cri_client.ts";
import { ctr, docker, integrationTest } from "../engines/rig.ts";

integrationTest(
  "rig: a Docker container has the same PID in Docker and in containerd namespace moby",
  async (rig) => {
    const name = `ww-rig-${crypto.randomUUID().slice(0, 8)}`;
    const id = await docker("run", "-d", "--name", name, rig.image);
    try {
      const pid = Number(await docker("inspect", "-f", "{{.State.Pid}}", id));
      assert(pid > 0, `docker inspect gave PID ${pid}`);
      const tasks = await ctr("-n", "moby", "tasks", "ls");
      const row = tasks.split("\n").find((line) => line.startsWith(id));
      assert(
        row,
        `container ${id} missing from ctr -n moby tasks ls:\n${tasks}`,
      );
      assertEquals(Number(row.split(/\s+/)[1]), pid);
    } finally {
      await docker("rm", "-f", id);
    }
  },
);

integrationTest(
  "rig: a containerd task runs in a custom namespace",
  async (rig) => {
    const ns = `wwrig${crypto.randomUUID().slice(0, 6)}`;
    const id = "probe";
    const image = `${rig.dir}/image.tar`;
    await ctr("-n", ns, "images", "import", image);
    try {
      await ctr("-n", ns, "run", "-d", rig.ctrImage, id);
      const tasks = await ctr("-n", ns, "tasks", "ls");
      const row = tasks.split("\n").find((line) => line.startsWith(id + " "));
      assert(row && row.includes("RUNNING"), `task not running:\n${tasks}`);
      const pid = Number(row.split(/\s+/)[1]);
      assert(pid > 0);
      // The task's process is the busybox sleep of the test image.
      const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
      assertEquals(cmdline.split("\0")[0], "/bin/sleep");
    } finally {
      await ctr("-n", ns, "tasks", "kill", "-s", "SIGKILL", id).catch(() => {});
      for (let i = 0; i < 100; i++) {
        const out = await ctr("-n", ns, "tasks", "ls", "-q");
        if (!out.includes(id)) break;
        await ctr("-n", ns, "tasks", "delete", id).catch(() => {});
        await new Promise((r) => setTimeout(r, 50));
      }
      await ctr("-n", ns, "containers", "rm", id);
      // The namespace keeps the image's snapshots; the rig's folder goes anyway.
    }
  },
);

integrationTest(
  "rig: a CRI pod runs a container and GetContainerEvents delivers its start",
  async (rig) => {
    await using cri = new CriTestClient(rig.containerdSocket, {
      logDir: `${rig.dir}/cri-logs`,
      image: rig.ctrImage,
    });
    const abort = new AbortController();
    const events = cri.events(abort.signal);
    const pod = await cri.runPod(`ww-rig-${crypto.randomUUID().slice(0, 8)}`);
    try {
      const id = await cri.runContainer(pod, "sleeper");
      assert(await cri.containerPid(id) > 0);
      // Events are buffered for the one subscriber: skip others' until ours.
      let started = false;
      for await (const e of events) {
        if (
          e.container_id === id && e.container_event_type ===
            "CONTAINER_STARTED_EVENT"
        ) {
          started = true;
          break;
        }
      }
      assert(started, "no CONTAINER_STARTED_EVENT for the container");
    } finally {
      abort.abort();
      await events.return?.();
      await cri.removePod(pod);
    }
  },
);
