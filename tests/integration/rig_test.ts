// The rig itself: each engine runs containers, the engines see the same
// processes, and every container's cgroup and runc state are the rig's own
// (never the host's /sys/fs/cgroup/*/docker or /run/containerd/runc).
import { assert, assertEquals } from "../_assert.ts";
import { CriTestClient } from "../engines/cri_client.ts";
import { Ctr } from "../engines/containerd.ts";
import { DockerCli } from "../engines/docker.ts";
import { PodmanCli } from "../engines/podman.ts";
import { type Rig, served, testsOf, uniq } from "../engines/rig.ts";

const dockerTest = testsOf("docker", DockerCli.of);

const containerdTest = testsOf("containerd", (e) => new Ctr(e));

const criTest = testsOf("cri", CriTestClient.of);

const podmanTest = testsOf("podman", (e) => new PodmanCli(e));

/** Asserts that a process lives in cgroups below the rig's, in every hierarchy. */
async function assertRigCgroup(rig: Rig, pid: number): Promise<void> {
  const lines = (await Deno.readTextFile(`/proc/${pid}/cgroup`)).trim()
    .split("\n");
  for (const line of lines) {
    const path = line.split(":").slice(2).join(":");
    // name=systemd and the unified hierarchy are not set by runc v1 here.
    if (/^\d+:(name=systemd)?:/.test(line) && path === "/") continue;
    assert(
      path.startsWith(`/${rig.name}/`),
      `process ${pid} in cgroup ${line}, not below /${rig.name}`,
    );
  }
}

/** Asserts that runc keeps a container's state in the rig's folder. */
async function assertRigRuncState(root: string, ns: string, id: string) {
  const dir = ns ? `${root}/${ns}/${id}` : `${root}/${id}`;
  const state = JSON.parse(await Deno.readTextFile(`${dir}/state.json`));
  assertEquals(state.id, id);
}

dockerTest(
  "rig: a container has the same PID in Docker and in containerd namespace moby, a cgroup below the rig's",
  async (cli, engine, rig) => {
    const below = new Ctr(served("containerd", engine.containerd!));
    const id = await cli.run({ name: uniq("ww-rig") });
    const pid = await cli.pid(id);
    assert(pid > 0, `docker inspect gave PID ${pid}`);
    const task = (await below.tasks("moby")).get(id);
    assertEquals(task?.pid, pid);
    await assertRigCgroup(rig, pid);
    await assertRigRuncState(engine.runcRoot!, "moby", id);
  },
);

containerdTest(
  "rig: a task runs in a custom namespace, its runc state and cgroup the rig's",
  async (ctr, engine, rig) => {
    const ns = await ctr.namespace("rig");
    const id = uniq("probe");
    await ctr.run(ns, id);
    const task = (await ctr.tasks(ns)).get(id);
    assertEquals(task?.status, "RUNNING");
    // The task's process is the busybox sleep of the test image.
    const cmdline = await Deno.readTextFile(`/proc/${task!.pid}/cmdline`);
    assertEquals(cmdline.split("\0")[0], "/bin/sleep");
    await assertRigCgroup(rig, task!.pid);
    await assertRigRuncState(engine.runcRoot!, ns, id);
  },
);

criTest(
  "rig: a pod runs a container with a cgroup below the rig's; GetContainerEvents delivers its start where implemented",
  async (cri, engine, rig) => {
    const abort = new AbortController();
    const events = engine.events ? cri.events(abort.signal) : undefined;
    try {
      const pod = await cri.runPod(uniq("ww-rig"));
      const id = await cri.runContainer(pod, "sleeper");
      const pid = await cri.containerPid(id);
      assert(pid > 0);
      await assertRigCgroup(rig, pid);
      await assertRigCgroup(rig, await cri.podPid(pod));
      if (!events) return;
      // Events are buffered for the one subscriber: skip others' until ours.
      let started = false;
      for await (const e of events) {
        if (
          e.container_id === id &&
          e.container_event_type === "CONTAINER_STARTED_EVENT"
        ) {
          started = true;
          break;
        }
      }
      assert(started, "no CONTAINER_STARTED_EVENT for the container");
    } finally {
      abort.abort();
      await events?.return?.();
    }
  },
);

podmanTest(
  "rig: a container's cgroup is below the rig's, its runc state in the rig's folder",
  async (podman, engine, rig) => {
    const id = await podman.run({ name: uniq("ww-rig") });
    const pid = await podman.pid(id);
    assert(pid > 0);
    await assertRigCgroup(rig, pid);
    await assertRigRuncState(engine.runcRoot!, "", id);
  },
);
