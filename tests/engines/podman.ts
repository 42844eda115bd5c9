// podman's command line on the storage of one of the rig's podman services
// (it works while the API service is down), beside the docker CLI against
// the service.
import { DockerCli } from "./docker.ts";
import { type EngineInstance, run } from "./rig.ts";

/** The docker CLI against a podman service, and podman's own CLI. */
export class PodmanCli extends DockerCli {
  readonly engine: EngineInstance;

  constructor(engine: EngineInstance) {
    if (engine.kind !== "podman") {
      throw new Error(`${engine.label} is no podman`);
    }
    super(engine.socket, {
      cli: engine.docker,
      runFlags: engine.runFlags,
      env: engine.env,
    });
    this.engine = engine;
  }

  /** Runs `podman ARGS` on the service's storage; `run`/`create` get the run flags. */
  async podman(...args: string[]): Promise<string> {
    const [bin, ...global] = this.engine.podman!;
    const [cmd, ...rest] = args;
    const full = cmd === "run" || cmd === "create"
      ? [cmd, ...this.engine.runFlags ?? [], ...rest]
      : args;
    const out = (await run(bin, [...global, ...full], { env: this.engine.env }))
      .trim();
    if (cmd === "create" || (cmd === "run" && rest.includes("-d"))) {
      this.made(out);
    }
    return out;
  }

  /**
   * Removes containers at once (the Docker API's `rm -f` stops containers
   * that podman's own CLI made with their 10 s stop timeout).
   */
  override async remove(...ids: string[]): Promise<void> {
    if (ids.length) {
      await this.podman("rm", "-f", "-i", "-t", "0", ...ids).catch(() => {});
    }
  }
}
