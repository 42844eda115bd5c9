// Silent stalls: an engine frozen (SIGSTOP) for longer than the stall
// timeout, and an event stream that stays open but delivers nothing while
// the engine changes. Periodic reconciliation and the stall watchdog must
// bring the portfolio back to the truth.
import { assert, assertEquals } from "../_assert.ts";
import { watchDocker } from "../../docker.ts";
import { watchContainerd } from "../../containerd.ts";
import {
  containerdPid,
  ctr,
  docker,
  dockerdPid,
  integrationTest,
  waitFor,
} from "../engines/rig.ts";
import { EventRecorder } from "./_recorder.ts";

const FAST = {
  backoff: { initialMs: 50, maxMs: 300 },
  stallTimeoutMs: 1000,
  reconcileIntervalMs: 500,
};

async function pidOf(id: string): Promise<number> {
  return Number(await docker("inspect", "-f", "{{.State.Pid}}", id));
}

integrationTest(
  "stall: dockerd frozen past the stall timeout; after it thaws the portfolio equals the truth",
  async (rig) => {
    const keep = await docker("run", "-d", rig.image);
    const doomed = await docker("run", "-d", rig.image);
    await using watcher = watchDocker(rig.dockerSocket, FAST);
    const watching = watcher.watch();
    try {
      await watcher.ready;
      const rec = new EventRecorder(watcher);
      const doomedPid = await pidOf(doomed);
      const syncs = watcher.syncCount;
      Deno.kill(dockerdPid(), "SIGSTOP");
      try {
        // While frozen, a container dies behind its back.
        Deno.kill(doomedPid, "SIGKILL");
        await new Promise((r) => setTimeout(r, 2500));
        assert(
          watcher.lastError instanceof Error &&
            /stalled/.test(watcher.lastError.message),
          `no stall detected: ${watcher.lastError}`,
        );
      } finally {
        Deno.kill(dockerdPid(), "SIGCONT");
      }
      await rec.waitFor([doomed], 1);
      await waitFor(() => watcher.syncCount > syncs, { what: "resync" });
      assertEquals(rec.of([doomed]), [`exited:${doomed}`]);
      assertEquals(rec.of([keep]), []);
      assertEquals(watcher.portfolio.container(keep)?.pid, await pidOf(keep));
      assertEquals(watcher.portfolio.container(doomed), undefined);
      await rec.stop();
    } finally {
      await docker("rm", "-f", keep, doomed);
      await watcher.close();
      await watching;
    }
  },
);

integrationTest(
  "stall: containerd frozen past the stall timeout recovers to `ctr task ls`",
  async (rig) => {
    const ns = `wwstall${crypto.randomUUID().slice(0, 6)}`;
    await ctr("-n", ns, "images", "import", `${rig.dir}/image.tar`);
    await ctr("-n", ns, "run", "-d", rig.ctrImage, "keep");
    await using watcher = watchContainerd(rig.containerdSocket, FAST);
    const watching = watcher.watch();
    try {
      await watcher.ready;
      const rec = new EventRecorder(watcher);
      const id = `${ns}/keep`;
      assert(watcher.portfolio.container(id));
      const pid = watcher.portfolio.container(id)!.pid;
      Deno.kill(containerdPid(), "SIGSTOP");
      try {
        Deno.kill(pid, "SIGKILL"); // the shim sees it; containerd is frozen
        await new Promise((r) => setTimeout(r, 2500));
        assert(
          /stalled/.test(String(watcher.lastError)),
          `${watcher.lastError}`,
        );
      } finally {
        Deno.kill(containerdPid(), "SIGCONT");
      }
      await rec.waitFor([id], 1);
      assertEquals(rec.of([id]), [`exited:${id}`]);
      assertEquals(watcher.portfolio.container(id), undefined);
      await rec.stop();
    } finally {
      await watcher.close();
      await watching;
      await ctr("-n", ns, "tasks", "delete", "keep").catch(() => {});
      await ctr("-n", ns, "containers", "rm", "keep").catch(() => {});
      // dockerd lives on this containerd: let it settle again.
      await waitFor(() => docker("ps").then(() => true, () => false), {
        what: "dockerd answering",
      });
    }
  },
);

/** A unix socket proxy to dockerd that can mute the event stream. */
function mutingProxy(path: string, target: string) {
  let muted = false;
  const listener = Deno.listen({ transport: "unix", path });
  const conns = new Set<Deno.Conn>();
  const pipe = async (
    from: Deno.Conn,
    to: Deno.Conn,
    events: { is: boolean },
    upstream: boolean,
  ) => {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buf);
        if (n === null) break;
        const chunk = buf.subarray(0, n);
        if (upstream && !events.is) {
          events.is = new TextDecoder().decode(chunk).startsWith("GET /") &&
            new TextDecoder().decode(chunk).includes("/events");
        }
        if (!upstream && events.is && muted) continue; // swallowed
        await to.write(chunk);
      }
    } catch {
      // closed
    } finally {
      try {
        to.close();
      } catch {
        // already closed
      }
    }
  };
  const serving = (async () => {
    const pipes: Promise<void>[] = [];
    for await (const client of listener) {
      const server = await Deno.connect({ transport: "unix", path: target });
      conns.add(client);
      conns.add(server);
      const events = { is: false };
      pipes.push(pipe(client, server, events, true));
      pipes.push(pipe(server, client, events, false));
    }
    await Promise.all(pipes);
  })();
  return {
    mute() {
      muted = true;
    },
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
      await serving.catch(() => {});
    },
  };
}

integrationTest(
  "stall: an event stream that stays open but delivers nothing is caught by reconciliation",
  async (rig) => {
    const proxyPath = `${rig.dir}/muted-${
      crypto.randomUUID().slice(0, 6)
    }.sock`;
    const proxy = mutingProxy(proxyPath, rig.dockerSocket);
    const ids: string[] = [];
    try {
      await using watcher = watchDocker(proxyPath, FAST);
      const watching = watcher.watch();
      await watcher.ready;
      const rec = new EventRecorder(watcher);
      proxy.mute();
      const fresh = await docker("run", "-d", rig.image);
      ids.push(fresh);
      await rec.waitFor([fresh], 1);
      assertEquals(rec.of([fresh]), [`started:${fresh}`]);
      assertEquals(watcher.portfolio.container(fresh)?.pid, await pidOf(fresh));
      await docker("rm", "-f", fresh);
      await rec.waitFor([fresh], 2);
      assertEquals(watcher.portfolio.container(fresh), undefined);
      await rec.stop();
      await watcher.close();
      await watching;
    } finally {
      if (ids.length) await docker("rm", "-f", ...ids).catch(() => {});
      await proxy.close();
      await Deno.remove(proxyPath).catch(() => {});
    }
  },
);
