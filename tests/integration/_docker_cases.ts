// Docker suite cases that run against any endpoint of the rig's dockerd:
// its socket, or the same dockerd reached over SSH (or TLS). The cases are
// registered by the test files, one per endpoint kind.
import { assert, assertEquals } from "../_assert.ts";
import { DockerClient, type DockerOptions, watchDocker } from "../../docker.ts";
import { EventStreamEndedError } from "../../engineclient/mod.ts";
import {
  ctr,
  docker,
  dockerdPid,
  type Rig,
  startEngine,
  stopEngine,
  waitFor,
} from "../engines/rig.ts";
import { EventRecorder } from "./_recorder.ts";

/** How a case reaches the rig's dockerd. */
export interface DockerTarget {
  /** The endpoint given to the client. */
  endpoint: string;
  /** The client's `api` for it (the socket path for unix://). */
  api: string;
  /** Client options (SSH keys, TLS). */
  options?: DockerOptions;
}

export function uniq(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

export async function run(rig: Rig, name: string, ...flags: string[]) {
  return await docker("run", "-d", "--name", name, ...flags, rig.image);
}

export async function pidOf(id: string): Promise<number> {
  return Number(await docker("inspect", "-f", "{{.State.Pid}}", id));
}

/** The engine's truth: running and paused containers, ID → paused. */
export async function truth(): Promise<Map<string, boolean>> {
  const out = await docker(
    "ps",
    "-q",
    "--no-trunc",
    "--filter",
    "status=running",
    "--filter",
    "status=paused",
    "--format",
    "{{.ID}} {{.State}}",
  );
  const map = new Map<string, boolean>();
  for (const line of out.split("\n").filter(Boolean)) {
    const [id, state] = line.split(" ");
    map.set(id, state === "paused");
  }
  return map;
}

// The PID from containerd (namespace moby), which answers while dockerd is down.
export async function pidOfTask(_rig: Rig, id: string): Promise<number> {
  const tasks = await ctr("-n", "moby", "tasks", "ls");
  const row = tasks.split("\n").find((line) => line.startsWith(id));
  const pid = Number(row?.split(/\s+/)[1] ?? 0);
  // Never 0: Deno.kill(0, …) would signal our own process group.
  assert(pid > 0, `no containerd task for container ${id}:\n${tasks}`);
  return pid;
}

/**
 * Settles like `promise`, or rejects naming `what` after `ms`: a hang (an
 * engine that never came back, a loss never surfaced) fails the test instead
 * of stalling the run. A safety net, not a timing assertion.
 */
export async function bounded<T>(
  promise: Promise<T>,
  what: string,
  ms = 30_000,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${ms} ms: ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function removeAll(ids: string[]) {
  if (ids.length) await docker("rm", "-f", ...ids).catch(() => {});
}

/** start, pause, unpause, stop, kill -9 and rm -f each yield exactly their event. */
export async function lifecycleCase(
  rig: Rig,
  target: DockerTarget,
): Promise<void> {
  await using watcher = watchDocker(target.endpoint, {
    engine: target.options,
  });
  const watching = watcher.watch();
  await watcher.ready;
  const rec = new EventRecorder(watcher);
  const name = uniq("life");
  const id = await docker("create", "--name", name, rig.image);
  const killed = uniq("killed");
  const removed = uniq("removed");
  const ids = [id];
  try {
    await docker("start", id);
    await rec.waitFor([id], 1);
    assertEquals(watcher.portfolio.container(id)?.pid, await pidOf(id));
    await docker("pause", id);
    await rec.waitFor([id], 2);
    assertEquals(watcher.portfolio.container(id)?.paused, true);
    await docker("unpause", id);
    await rec.waitFor([id], 3);
    assertEquals(watcher.portfolio.container(id)?.paused, false);
    await docker("stop", "-t", "1", id);
    await rec.waitFor([id], 4);
    assertEquals(watcher.portfolio.container(id), undefined);
    assertEquals(rec.of([id]), [
      `started:${id}`,
      `paused:${id}`,
      `unpaused:${id}`,
      `exited:${id}`,
    ]);

    const k = await run(rig, killed);
    ids.push(k);
    await rec.waitFor([k], 1);
    Deno.kill(await pidOf(k), "SIGKILL");
    await rec.waitFor([k], 2);
    assertEquals(rec.of([k]), [`started:${k}`, `exited:${k}`]);
    assertEquals(watcher.portfolio.container(k), undefined);

    const r = await run(rig, removed);
    ids.push(r);
    await rec.waitFor([r], 1);
    await docker("rm", "-f", r);
    await rec.waitFor([r], 2);
    assertEquals(rec.of([r]), [`started:${r}`, `exited:${r}`]);
    assertEquals(watcher.portfolio.container(r), undefined);
    // Nothing more arrives for these containers.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assertEquals(rec.of([id, k, r]).length, 8);
    await rec.stop();
    assertEquals(rec.error, undefined);
  } finally {
    await removeAll(ids);
    await watcher.close();
    await watching;
  }
}

/** dockerd killed and restarted mid-watch resyncs to the truth with exactly the difference. */
export async function restartResyncCase(
  rig: Rig,
  target: DockerTarget,
): Promise<void> {
  const keep = await run(rig, uniq("keep"));
  const gone = await run(rig, uniq("gone"));
  const pausing = await run(rig, uniq("pausing"));
  const ids = [keep, gone, pausing];
  await using watcher = watchDocker(target.endpoint, {
    backoff: { initialMs: 50, maxMs: 300 },
    engine: target.options,
  });
  const watching = watcher.watch();
  // A bare client's event stream, to see the loss surface as an error.
  const bare = new DockerClient(target.endpoint, target.options);
  try {
    await bounded(watcher.ready, "watcher ready");
    const rec = new EventRecorder(watcher);
    const syncs = watcher.syncCount;
    const stream = await bare.lifecycleEvents();
    // Caught at once: the loss happens while we wait for the kill.
    const draining = (async () => {
      for await (const _ of stream) {
        // none expected before the kill
      }
    })().then(() => undefined, (err: Error) => err);
    await stopEngine("dockerd", { signal: "SIGKILL" });
    const lost = await bounded(draining, "loss of the event stream");
    assert(
      lost instanceof EventStreamEndedError &&
        lost.endpoint === target.api &&
        lost.message.includes(`"${target.api}"`),
      `stream loss not surfaced: ${lost}`,
    );
    // While dockerd is down its containers live on in containerd: end one
    // behind its back.
    Deno.kill(await pidOfTask(rig, gone), "SIGKILL");
    await startEngine("dockerd");
    await waitFor(() => watcher.syncCount > syncs, {
      what: "resync after dockerd restart",
    });
    await rec.waitFor([gone], 1);
    // Changes after the resync arrive as ordinary events.
    await docker("pause", pausing);
    const fresh = await run(rig, uniq("fresh"));
    ids.push(fresh);
    await rec.waitFor([pausing, fresh], 2);
    const t = await truth();
    const mine = new Set(ids);
    const seen = new Map(
      watcher.portfolio.containers().filter((c) => mine.has(c.id)).map((
        c,
      ) => [c.id, c.paused]),
    );
    const expected = new Map([...t].filter(([id]) => mine.has(id)));
    assertEquals(seen, expected);
    assertEquals(rec.of([keep]), []);
    assertEquals(rec.of([gone]), [`exited:${gone}`]);
    assertEquals(rec.of([pausing]), [`paused:${pausing}`]);
    assertEquals(rec.of([fresh]), [`started:${fresh}`]);
    assertEquals(watcher.portfolio.container(keep)?.pid, await pidOf(keep));
    await rec.stop();
  } finally {
    await bare.close();
    await startEngine("dockerd");
    await removeAll(ids);
    await watcher.close();
    await watching;
    assert(dockerdPid() > 0);
  }
}
