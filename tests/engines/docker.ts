// The docker command line against one of the rig's Docker API engines
// (dockerd, or podman's service): containers the tests start, the
// engine's truth, and a marker container.
import type Docker from "dockerode";
import {
  addDockerd,
  type EngineInstance,
  need,
  primary,
  removeDockerd,
  run,
  startEngine,
  stopEngine,
  uniq,
  waitFor,
} from "./rig.ts";
import type { CertSet } from "./tls.ts";
import type { Truth } from "./truth.ts";

// The CLI talks to the rig's unix sockets: TLS settings a test put in the
// environment (for the code under test) must not reach it.
const NO_TLS_ENV = {
  DOCKER_TLS_VERIFY: "",
  DOCKER_TLS: "",
  DOCKER_CERT_PATH: "",
};

/**
 * The docker CLI bound to one engine's socket. It remembers the containers
 * it made (`run -d`, `create`); disposing it removes them.
 */
export class DockerCli implements AsyncDisposable {
  readonly socket: string;
  readonly #cli: string;
  readonly #runFlags: readonly string[];
  readonly #env: Record<string, string>;
  readonly #made = new Set<string>();

  /**
   * `runFlags` go into every `run` and `create` (podman's containers need
   * `--network none` and the rig's cgroup parent; dockerd has them as
   * daemon options); `cli` is the docker command (default `docker`).
   */
  constructor(
    socket: string,
    options: {
      cli?: string;
      runFlags?: string[];
      env?: Record<string, string>;
    } = {},
  ) {
    this.socket = socket;
    this.#cli = options.cli ?? "docker";
    this.#runFlags = options.runFlags ?? [];
    this.#env = options.env ?? {};
  }

  /** The CLI of an engine instance of the rig. */
  static of(engine: EngineInstance): DockerCli {
    return new DockerCli(engine.socket, {
      cli: engine.docker,
      runFlags: engine.runFlags,
      env: engine.env,
    });
  }

  /** Runs `docker ARGS`; returns stdout, trimmed. */
  async docker(...args: string[]): Promise<string> {
    const [cmd, ...rest] = args;
    const makes = cmd === "create" || (cmd === "run" && rest.includes("-d"));
    const full = cmd === "run" || cmd === "create"
      ? [cmd, ...this.#runFlags, ...rest]
      : args;
    const out =
      (await run(this.#cli, ["-H", `unix://${this.socket}`, ...full], {
        env: { ...NO_TLS_ENV, ...this.#env },
      })).trim();
    if (makes) this.made(out);
    return out;
  }

  /** Notes a container to remove on disposal. */
  protected made(id: string): void {
    this.#made.add(id);
  }

  /** Starts a detached test container (`sleep infinity`); returns its ID. */
  run(
    options: { name?: string; labels?: Record<string, string> } = {},
  ): Promise<string> {
    return this.docker(...this.#args("run", options), "-d", need().image);
  }

  /** Creates a test container without starting it; returns its ID. */
  create(
    options: { name?: string; labels?: Record<string, string> } = {},
  ): Promise<string> {
    return this.docker(...this.#args("create", options), need().image);
  }

  #args(
    cmd: string,
    options: { name?: string; labels?: Record<string, string> },
  ): string[] {
    const args = [cmd, "--name", options.name ?? uniq("ww")];
    for (const [k, v] of Object.entries(options.labels ?? {})) {
      args.push("-l", `${k}=${v}`);
    }
    return args;
  }

  /** A container's PID (0 when it is not running). */
  async pid(id: string): Promise<number> {
    return Number(await this.docker("inspect", "-f", "{{.State.Pid}}", id));
  }

  /** Removes containers (force), ignoring those already gone. */
  async remove(...ids: string[]): Promise<void> {
    if (ids.length) await this.docker("rm", "-f", ...ids).catch(() => {});
  }

  /** Removes every container this CLI made. */
  async [Symbol.asyncDispose](): Promise<void> {
    const ids = [...this.#made];
    this.#made.clear();
    await this.remove(...ids);
  }

  /**
   * The engine's truth: its running and paused containers with their PIDs
   * (`docker ps`, then one `docker inspect`; again when a container went
   * away in between).
   */
  async truth(): Promise<Truth> {
    let result: Truth | undefined;
    await waitFor(async () => {
      const ids = (await this.docker(
        "ps",
        "-q",
        "--no-trunc",
        "--filter",
        "status=running",
        "--filter",
        "status=paused",
      )).split("\n").filter(Boolean);
      const truth: Truth = new Map();
      if (ids.length === 0) {
        result = truth;
        return true;
      }
      let out: string;
      try {
        out = await this.docker(
          "inspect",
          "-f",
          "{{.Id}} {{.State.Pid}} {{.State.Paused}} {{.State.Running}}",
          ...ids,
        );
      } catch {
        return false; // one was removed meanwhile
      }
      for (const line of out.split("\n")) {
        const [id, pid, paused, running] = line.split(" ");
        if (running === "true") {
          truth.set(id, { pid: Number(pid), paused: paused === "true" });
        }
      }
      result = truth;
      return true;
    }, { what: `a consistent docker ps/inspect of ${this.socket}` });
    return result!;
  }

  /**
   * A marker container: started after an action and stopped, its events
   * come after every event the action caused (see EventRecorder.settle).
   */
  marker(): { start(): Promise<string>; stop(id: string): Promise<void> } {
    return {
      start: () => this.run({ name: uniq("marker") }),
      stop: (id) => this.docker("rm", "-f", id).then(() => {}),
    };
  }
}

/**
 * A dockerd added to the rig for one test (a "remote" host: see
 * {@linkcode addDockerd}), with the docker CLI bound to its unix socket.
 * Disposing it removes its containers, the daemon and its folder.
 */
export class AddedDockerd extends DockerCli {
  /** Its engine instance (for stopEngine/startEngine). */
  readonly engine: EngineInstance;
  /** The TCP port it listens on with TLS. */
  readonly port?: number;
  /** `tcp://127.0.0.1:PORT` when it listens with TLS. */
  readonly tcpUrl?: string;

  private constructor(engine: EngineInstance) {
    super(engine.socket);
    this.engine = engine;
    this.port = engine.tcpPort;
    this.tcpUrl = engine.tcpPort
      ? `tcp://127.0.0.1:${engine.tcpPort}`
      : undefined;
  }

  /**
   * Adds one, named after `name`; with `tls` (the server's certificates)
   * it also listens on 127.0.0.1 with `--tlsverify`.
   */
  static async add(
    name: string,
    options: { tls?: CertSet } = {},
  ): Promise<AddedDockerd> {
    return new AddedDockerd(
      await addDockerd(name, { tlsDir: options.tls?.dir }),
    );
  }

  /** Stops the daemon only (its containers live on: live-restore). */
  stopDaemon(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    return stopEngine(this.engine, { signal });
  }

  /** Starts the daemon again, same flags, and waits until it answers. */
  startDaemon(): Promise<void> {
    return startEngine(this.engine);
  }

  /** Removes its containers, the daemon and its folder. */
  override async [Symbol.asyncDispose](): Promise<void> {
    await super[Symbol.asyncDispose]();
    await removeDockerd(this.engine);
  }
}

/** The docker CLI bound to the rig's first dockerd. */
export function primaryDocker(): DockerCli {
  return DockerCli.of(primary("docker"));
}

/** The docker CLI against the rig's first dockerd; returns stdout, trimmed. */
export function docker(...args: string[]): Promise<string> {
  return primaryDocker().docker(...args);
}

/**
 * Starts a labelled test container through dockerode (faster than the
 * CLI, for churn); removes it again when its start fails. Returns its ID.
 */
export async function startLabelled(
  client: Docker,
  labels: Record<string, string>,
): Promise<string> {
  const c = await client.createContainer({
    Image: need().image,
    Labels: labels,
  });
  try {
    await c.start();
  } catch (err) {
    await c.remove({ force: true }).catch(() => {});
    throw err;
  }
  return c.id;
}
