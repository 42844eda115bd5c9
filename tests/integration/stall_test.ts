// Silent stalls: an engine frozen (SIGSTOP) for longer than the stall
// timeout, and an event stream that stays open but delivers nothing while
// the engine changes. Periodic reconciliation and the stall watchdog must
// bring the portfolio back to the truth.
import { assert, assertEquals } from "../_assert.ts";
import { watchDocker } from "../../docker.ts";
import { watchContainerd } from "../../containerd.ts";
import type { Watcher } from "../../watcher/mod.ts";
import {
  type EngineInstance,
  enginePid,
  engines,
  testsOf,
  uniq,
  waitFor,
} from "../engines/rig.ts";
import { DockerCli } from "../engines/docker.ts";
import { Ctr } from "../engines/containerd.ts";
import { SocketProxy } from "../engines/proxy.ts";
import { EventRecorder, watchReady } from "./_recorder.ts";

const dockerTest = testsOf("docker", DockerCli.of);

const containerdTest = testsOf("containerd", (e) => new Ctr(e));

const FAST = {
  backoff: { initialMs: 50, maxMs: 300 },
  stallTimeoutMs: 1000,
  reconcileIntervalMs: 500,
};

/**
 * Runs `fn` with an engine's daemon frozen (SIGSTOP), then thaws it and
 * waits until any dockerd on it answers again.
 */
async function frozen(engine: EngineInstance, fn: () => Promise<void>) {
  const daemon = enginePid(engine);
  Deno.kill(daemon, "SIGSTOP");
  try {
    await fn();
  } finally {
    Deno.kill(daemon, "SIGCONT");
  }
  for (const d of engines("docker")) {
    if (d.containerd !== engine.daemon) continue;
    const cli = DockerCli.of(d);
    await waitFor(() => cli.docker("ps").then(() => true, () => false), {
      what: `${d.label} answering`,
    });
  }
}

/** Waits until the watcher reports a stall (its engine is frozen). */
async function stalled(watcher: Watcher): Promise<void> {
  await waitFor(() => /stalled/.test(String(watcher.lastError)), {
    what: () => `a stall to be detected (last error: ${watcher.lastError})`,
  });
}

dockerTest(
  "stall: dockerd frozen past the stall timeout; after it thaws the portfolio equals the truth",
  async (cli, engine) => {
    const keep = await cli.run();
    const doomed = await cli.run();
    await using watcher = watchDocker(engine.socket, FAST);
    await using _watch = await watchReady(watcher);
    await using rec = new EventRecorder(watcher);
    const doomedPid = await cli.pid(doomed);
    const syncs = watcher.syncCount;
    await frozen(engine, async () => {
      // While frozen, a container dies behind its back.
      Deno.kill(doomedPid, "SIGKILL");
      await stalled(watcher);
    });
    await rec.waitFor([doomed], 1);
    await waitFor(() => watcher.syncCount > syncs, { what: "resync" });
    await rec.settle(cli.marker());
    assertEquals(rec.of([doomed]), [`exited:${doomed}`]);
    assertEquals(rec.of([keep]), []);
    assertEquals(watcher.portfolio.container(keep)?.pid, await cli.pid(keep));
    assertEquals(watcher.portfolio.container(doomed), undefined);
  },
);

containerdTest(
  "stall: containerd frozen past the stall timeout recovers to `ctr task ls`",
  async (ctr, engine) => {
    const ns = await ctr.namespace("stall");
    const task = uniq("keep");
    await ctr.run(ns, task);
    await using watcher = watchContainerd(engine.socket, FAST);
    await using _watch = await watchReady(watcher);
    await using rec = new EventRecorder(watcher);
    const id = `${ns}/${task}`;
    assert(watcher.portfolio.container(id));
    const pid = watcher.portfolio.container(id)!.pid;
    await frozen(engine, async () => {
      Deno.kill(pid, "SIGKILL"); // the shim sees it; containerd is frozen
      await stalled(watcher);
    });
    await rec.waitFor([id], 1);
    await rec.settle(ctr.marker(ns));
    assertEquals(rec.of([id]), [`exited:${id}`]);
    assertEquals(watcher.portfolio.container(id), undefined);
  },
);

dockerTest(
  "stall: an event stream that stays open but delivers nothing is caught by reconciliation",
  async (cli, engine, rig) => {
    let muted = false;
    await using proxy = new SocketProxy(
      engine.socket,
      { path: `${rig.dir}/${uniq("muted")}.sock` },
      { mute: (r) => muted && r.path.includes("/events") },
    );
    await using watcher = watchDocker(proxy.address, FAST);
    await using _watch = await watchReady(watcher);
    await using rec = new EventRecorder(watcher);
    muted = true;
    const fresh = await cli.run();
    await rec.waitFor([fresh], 1);
    assertEquals(rec.of([fresh]), [`started:${fresh}`]);
    assertEquals(watcher.portfolio.container(fresh)?.pid, await cli.pid(fresh));
    await cli.docker("rm", "-f", fresh);
    await rec.waitFor([fresh], 2);
    assertEquals(watcher.portfolio.container(fresh), undefined);
  },
);
