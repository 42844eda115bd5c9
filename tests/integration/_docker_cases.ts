// Docker suite cases that run against any endpoint of one of the rig's
// dockerds: its socket, or the same dockerd reached over SSH (or TLS). The
// test files register them per engine instance, one per endpoint kind.
import { assert, assertEquals } from "../_assert.ts";
import { DockerClient, type DockerOptions, watchDocker } from "../../docker.ts";
import { EventStreamEndedError } from "../../engineclient/mod.ts";
import { Ctr } from "../engines/containerd.ts";
import type { DockerCli } from "../engines/docker.ts";
import {
  type EngineInstance,
  served,
  startEngine,
  stopEngine,
  uniq,
  waitFor,
} from "../engines/rig.ts";
import { viewOf } from "../engines/truth.ts";
import { EventRecorder, watchReady } from "./_recorder.ts";

/** How a case reaches the engine instance's dockerd. */
export interface DockerTarget {
  /** The endpoint given to the client. */
  endpoint: string;
  /** The client's `api` for it (the socket path for unix://). */
  api: string;
  /** Client options (SSH keys, TLS). */
  options?: DockerOptions;
}

/** The engine instance reached at its own unix socket. */
export function localTarget(engine: EngineInstance): DockerTarget {
  return { endpoint: engine.socket, api: engine.socket };
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

/** start, pause, unpause, stop, kill -9 and rm -f each yield exactly their event. */
export async function lifecycleCase(
  cli: DockerCli,
  target: DockerTarget,
): Promise<void> {
  await using watcher = watchDocker(target.endpoint, {
    engine: target.options,
  });
  await using _watch = await watchReady(watcher);
  assertEquals(watcher.api, target.api);
  await using rec = new EventRecorder(watcher);
  const id = await cli.create({ name: uniq("life") });
  await cli.docker("start", id);
  await rec.waitFor([id], 1);
  assertEquals(watcher.portfolio.container(id)?.pid, await cli.pid(id));
  await cli.docker("pause", id);
  await rec.waitFor([id], 2);
  assertEquals(watcher.portfolio.container(id)?.paused, true);
  await cli.docker("unpause", id);
  await rec.waitFor([id], 3);
  assertEquals(watcher.portfolio.container(id)?.paused, false);
  await cli.docker("stop", "-t", "1", id);
  await rec.waitFor([id], 4);
  assertEquals(watcher.portfolio.container(id), undefined);
  assertEquals(rec.of([id]), [
    `started:${id}`,
    `paused:${id}`,
    `unpaused:${id}`,
    `exited:${id}`,
  ]);

  const k = await cli.run({ name: uniq("killed") });
  await rec.waitFor([k], 1);
  Deno.kill(await cli.pid(k), "SIGKILL");
  await rec.waitFor([k], 2);
  assertEquals(watcher.portfolio.container(k), undefined);

  const r = await cli.run({ name: uniq("removed") });
  await rec.waitFor([r], 1);
  await cli.docker("rm", "-f", r);
  await rec.waitFor([r], 2);
  assertEquals(watcher.portfolio.container(r), undefined);
  // Nothing more arrives for these containers: a marker's events, emitted
  // after all of theirs, come first.
  await rec.settle(cli.marker());
  assertEquals(rec.of([id]).length, 4);
  assertEquals(rec.of([k]), [`started:${k}`, `exited:${k}`]);
  assertEquals(rec.of([r]), [`started:${r}`, `exited:${r}`]);
  await rec.stop();
  assertEquals(rec.error, undefined);
}

/**
 * The engine instance's dockerd killed and restarted mid-watch resyncs to
 * the truth with exactly the difference; a bare client's event stream
 * surfaces the loss as an error naming the target's API.
 */
export async function restartResyncCase(
  cli: DockerCli,
  engine: EngineInstance,
  target: DockerTarget,
): Promise<void> {
  // While dockerd is down its containers live on in containerd.
  const below = new Ctr(served("containerd", engine.containerd!));
  const keep = await cli.run({ name: uniq("keep") });
  const gone = await cli.run({ name: uniq("gone") });
  const pausing = await cli.run({ name: uniq("pausing") });
  await using watcher = watchDocker(target.endpoint, {
    backoff: { initialMs: 50, maxMs: 300 },
    engine: target.options,
  });
  await using _watch = await watchReady(watcher);
  // A bare client's event stream, to see the loss surface as an error.
  const bare = new DockerClient(target.endpoint, target.options);
  try {
    await using rec = new EventRecorder(watcher);
    const syncs = watcher.syncCount;
    const stream = await bare.lifecycleEvents();
    // Caught at once: the loss happens while we wait for the kill.
    const draining = (async () => {
      for await (const _ of stream) {
        // none expected before the kill
      }
    })().then(() => undefined, (err: Error) => err);
    await stopEngine(engine, { signal: "SIGKILL" });
    const lost = await bounded(draining, "loss of the event stream");
    assert(
      lost instanceof EventStreamEndedError &&
        lost.endpoint === target.api &&
        lost.message.includes(`"${target.api}"`),
      `stream loss not surfaced: ${lost}`,
    );
    // End one behind dockerd's back (containerd's PID: never 0, which
    // would signal our own process group).
    const task = (await below.tasks(engine.namespace ?? "moby")).get(gone);
    assert(task && task.pid > 0, `no containerd task for ${gone}`);
    Deno.kill(task.pid, "SIGKILL");
    await startEngine(engine);
    await waitFor(() => watcher.syncCount > syncs, {
      what: "resync after dockerd restart",
    });
    await rec.waitFor([gone], 1);
    // Changes after the resync arrive as ordinary events.
    await cli.docker("pause", pausing);
    const fresh = await cli.run({ name: uniq("fresh") });
    await rec.waitFor([pausing, fresh], 2);
    const mine = new Set([keep, gone, pausing, fresh]);
    const only = <V>(m: Map<string, V>) =>
      new Map([...m].filter(([id]) => mine.has(id)));
    assertEquals(
      only(viewOf(watcher.portfolio.containers())),
      only(await cli.truth()),
    );
    assertEquals(rec.of([keep]), []);
    assertEquals(rec.of([gone]), [`exited:${gone}`]);
    assertEquals(rec.of([pausing]), [`paused:${pausing}`]);
    assertEquals(rec.of([fresh]), [`started:${fresh}`]);
  } finally {
    await bare.close();
    await startEngine(engine);
  }
}
