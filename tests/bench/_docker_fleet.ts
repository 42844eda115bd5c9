// Many Docker containers made, started, killed and removed quickly through
// the API, for the scale benchmarks (internal).
import Docker from "dockerode";
import { mapPool } from "../../engineclient/_async.ts";

/** Makes and starts Docker containers of `image` through the API. */
export class DockerFleet {
  readonly client: Docker;
  readonly image: string;
  /** IDs of every container made (removed by {@linkcode removeAll}). */
  readonly ids: string[] = [];
  readonly #prefix = `scale-${crypto.randomUUID().slice(0, 6)}`;
  #next = 0;

  constructor(socket: string, image: string) {
    this.client = new Docker({ socketPath: socket });
    this.image = image;
  }

  /**
   * Creates `n` containers (not started), with `labels`; returns their IDs.
   */
  async create(
    n: number,
    options: { concurrency?: number; labels?: Record<string, string> } = {},
  ): Promise<string[]> {
    const made = await mapPool(
      Array.from({ length: n }, () => `${this.#prefix}-${this.#next++}`),
      async (name) => {
        const c = await this.client.createContainer({
          Image: this.image,
          name,
          Labels: options.labels,
          HostConfig: { NetworkMode: "none" },
        } as Docker.ContainerCreateOptions);
        this.ids.push(c.id);
        return c.id;
      },
      { concurrency: options.concurrency ?? 8 },
    );
    return made;
  }

  /** Starts containers, `concurrency` at once. */
  async start(ids: readonly string[], concurrency = 8): Promise<void> {
    await mapPool(
      ids,
      (id) => this.client.getContainer(id).start(),
      { concurrency },
    );
  }

  /** Kills containers (SIGKILL), `concurrency` at once. */
  async kill(ids: readonly string[], concurrency = 8): Promise<void> {
    await mapPool(
      ids,
      (id) => this.client.getContainer(id).kill(),
      { concurrency },
    );
  }

  /** Creates and starts `n` containers; returns their IDs. */
  async run(
    n: number,
    options: { concurrency?: number; labels?: Record<string, string> } = {},
  ): Promise<string[]> {
    const ids = await this.create(n, options);
    await this.start(ids, options.concurrency);
    return ids;
  }

  /** Removes every container made, through the engine, saying so. */
  async removeAll(): Promise<void> {
    if (this.ids.length) {
      console.log(`removing ${this.ids.length} containers ...`);
    }
    await mapPool(
      this.ids.splice(0),
      (id) =>
        this.client.getContainer(id).remove({ force: true }).catch(() => {}),
      { concurrency: 8 },
    );
  }
}
