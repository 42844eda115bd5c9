// `ctr` against one of the rig's containerds. Every task it starts keeps
// its runc state, FIFOs and cgroup under the rig's names (runc's defaults
// would be the host's /run/containerd/runc/<namespace>,
// /run/containerd/fifo and /sys/fs/cgroup/*/<namespace>).
import {
  type EngineInstance,
  need,
  primary,
  run,
  uniq,
  waitFor,
} from "./rig.ts";
import type { Truth } from "./truth.ts";

/** A task as `ctr task ls` shows it. */
export interface CtrTask {
  pid: number;
  status: string;
}

/**
 * `ctr` bound to one containerd of the rig. It remembers the tasks it
 * started; disposing it removes them.
 */
export class Ctr implements AsyncDisposable {
  readonly engine: EngineInstance;
  readonly #made = new Set<string>();

  constructor(engine: EngineInstance) {
    if (engine.kind !== "containerd") {
      throw new Error(`${engine.label} is no containerd`);
    }
    this.engine = engine;
  }

  /**
   * Runs `ctr ARGS`; returns stdout, trimmed. Tasks start through
   * {@linkcode Ctr.run} only; `task exec` gets the rig's FIFO folder.
   */
  async ctr(...args: string[]): Promise<string> {
    let i = 0;
    while (args[i] === "-n" || args[i] === "--namespace") i += 2;
    const [cmd, sub] = [args[i], args[i + 1]];
    if (cmd === "run" || (/^t(asks?)?$/.test(cmd) && sub === "start")) {
      throw new Error(`start tasks with Ctr.run, not ctr ${cmd} ${sub}`);
    }
    const full = /^t(asks?)?$/.test(cmd) && sub === "exec"
      ? [
        ...args.slice(0, i + 2),
        "--fifo-dir",
        this.engine.fifoDir!,
        ...args.slice(i + 2),
      ]
      : args;
    return (await run(this.engine.ctr!, [
      "--address",
      this.engine.socket,
      ...full,
    ])).trim();
  }

  /** Starts a detached task of the test image (`sleep infinity`). */
  async run(
    ns: string,
    id: string,
    options: { labels?: Record<string, string> } = {},
  ): Promise<void> {
    const args = [
      "-n",
      ns,
      "run",
      "-d",
      "--null-io",
      "--fifo-dir",
      this.engine.fifoDir!,
      "--runc-root",
      this.engine.runcRoot!,
      "--cgroup",
      `${this.engine.cgroupParent}/${ns}/${id}`,
    ];
    for (const [k, v] of Object.entries(options.labels ?? {})) {
      args.push("--label", `${k}=${v}`);
    }
    this.#made.add(`${ns}/${id}`);
    await run(this.engine.ctr!, [
      "--address",
      this.engine.socket,
      ...args,
      need().ctrImage,
      id,
    ]);
  }

  /** Imports the test image into a namespace (images are per namespace). */
  async importImage(ns: string): Promise<void> {
    await this.ctr("-n", ns, "images", "import", need().imageTar);
  }

  /** A namespace named after the rig, with the test image. */
  async namespace(suffix: string): Promise<string> {
    const ns = `${need().name}-${suffix}`;
    await this.importImage(ns);
    return ns;
  }

  /** `ctr task ls` of a namespace: container ID → PID and status. */
  async tasks(ns: string): Promise<Map<string, CtrTask>> {
    const out = await this.ctr("-n", ns, "tasks", "ls");
    const tasks = new Map<string, CtrTask>();
    for (const line of out.split("\n").slice(1)) {
      const [id, pid, status] = line.trim().split(/\s+/);
      if (id) tasks.set(id, { pid: Number(pid), status });
    }
    return tasks;
  }

  /** Waits until a task has a status (or, for STOPPED, is gone). */
  async waitStatus(ns: string, id: string, status: string): Promise<void> {
    await waitFor(async () => {
      const t = (await this.tasks(ns)).get(id);
      return t?.status === status || (!t && status === "STOPPED");
    }, { what: `task ${ns}/${id} ${status}` });
  }

  /** Kills and deletes a task and its container; quiet when they are gone. */
  async remove(ns: string, id: string): Promise<void> {
    const t = (await this.tasks(ns).catch(() => new Map())).get(id);
    if (t) {
      if (t.status === "PAUSED") {
        await this.ctr("-n", ns, "task", "resume", id).catch(() => {});
      }
      await this.ctr("-n", ns, "task", "kill", "-s", "SIGKILL", id)
        .catch(() => {});
      await this.waitStatus(ns, id, "STOPPED");
      await this.ctr("-n", ns, "task", "delete", id).catch(() => {});
    }
    await this.ctr("-n", ns, "container", "rm", id).catch(() => {});
  }

  /** Removes every task this `ctr` started. */
  async [Symbol.asyncDispose](): Promise<void> {
    const made = [...this.#made];
    this.#made.clear();
    for (const m of made) {
      const i = m.indexOf("/");
      await this.remove(m.slice(0, i), m.slice(i + 1));
    }
  }

  /** The namespaces. */
  async namespaces(): Promise<string[]> {
    return (await this.ctr("namespaces", "ls", "-q")).split("\n")
      .filter(Boolean);
  }

  /**
   * containerd's truth: RUNNING and PAUSED tasks of every namespace but the
   * ignored ones, with the adaptor's display IDs (bare in `default`,
   * `namespace/id` elsewhere).
   */
  async truth(
    options: { ignored?: readonly string[] } = {},
  ): Promise<Truth> {
    const ignored = options.ignored ?? ["moby", "k8s.io"];
    const truth: Truth = new Map();
    for (const ns of await this.namespaces()) {
      if (ignored.includes(ns)) continue;
      for (const [id, t] of await this.tasks(ns)) {
        if (t.status !== "RUNNING" && t.status !== "PAUSED") continue;
        truth.set(ns === "default" ? id : `${ns}/${id}`, {
          pid: t.pid,
          paused: t.status === "PAUSED",
        });
      }
    }
    return truth;
  }

  /**
   * A marker task in a namespace: started after an action and stopped, its
   * events come after every event the action caused. Its ID is the
   * adaptor's display ID.
   */
  marker(
    ns: string,
  ): { start(): Promise<string>; stop(id: string): Promise<void> } {
    const display = (id: string) => ns === "default" ? id : `${ns}/${id}`;
    const bare = (shown: string) => shown.slice(shown.indexOf("/") + 1);
    return {
      start: async () => {
        const id = uniq("marker");
        await this.run(ns, id);
        return display(id);
      },
      stop: (shown) => this.remove(ns, bare(shown)),
    };
  }
}

/** `ctr` bound to the rig's first containerd. */
export function primaryCtr(): Ctr {
  return new Ctr(primary("containerd"));
}

/** `ctr` against the rig's first containerd; returns stdout, trimmed. */
export function ctr(...args: string[]): Promise<string> {
  return primaryCtr().ctr(...args);
}
