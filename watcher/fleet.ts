/**
 * The fleet: one watcher per discovered engine, a combined view of all
 * their containers, and one merged event stream with engine attribution.
 *
 * @module
 */

import type { Container } from "../engineclient/mod.ts";
import { engineRegistry } from "../engineclient/mod.ts";
import { SubscriberQueue } from "./_subscriber_queue.ts";
import {
  discoverEngines,
  type DiscoveryOptions,
  type DiscoveryResult,
  type FoundEngine,
  NoEngineFoundError,
} from "./discovery.ts";
import { SubscriberOverflowError } from "./errors.ts";
import type {
  EventsOptions,
  Watcher,
  WatcherEvent,
  WatcherOptions,
} from "./watcher.ts";
import { createWatcher } from "./create_watcher.ts";

/**
 * Which engine something belongs to.
 *
 * @example
 * ```ts
 * import type { EngineRef } from "@whalewatcher/whalewatcher";
 * const ref: EngineRef = { type: "docker.com", api: "/run/docker.sock", pid: 812 };
 * ```
 */
export interface EngineRef {
  /** Engine type (as reported, e.g. `"podman.io"`). */
  type: string;
  /** The engine's endpoint. */
  api: string;
  /** Engine PID when known, else 0. */
  pid: number;
  /** The engine's own ID (e.g. Docker's daemon ID), when it told. */
  id?: string;
}

/**
 * An event of any engine of the fleet.
 *
 * @example
 * ```ts
 * import type { FleetEvent } from "@whalewatcher/whalewatcher";
 * function show(e: FleetEvent) {
 *   console.log(e.engine.type, e.type, e.container.name);
 * }
 * ```
 */
export interface FleetEvent extends WatcherEvent {
  /** The engine the container belongs to. */
  readonly engine: EngineRef;
}

/**
 * A container of the fleet with its engine.
 *
 * @example
 * ```ts
 * import type { FleetContainer } from "@whalewatcher/whalewatcher";
 * function show(c: FleetContainer) {
 *   console.log(c.engine.type, c.container.name);
 * }
 * ```
 */
export interface FleetContainer {
  /** The engine it belongs to. */
  readonly engine: EngineRef;
  /** The container. */
  readonly container: Container;
}

/**
 * Options of {@linkcode Fleet}.
 *
 * @example
 * ```ts
 * import type { FleetOptions } from "@whalewatcher/whalewatcher";
 * const options: FleetOptions = { rediscoverIntervalMs: 10_000, queueSize: 1000 };
 * ```
 */
export interface FleetOptions extends DiscoveryOptions {
  /** Rediscover every so many milliseconds; 0 or absent: only on demand. */
  rediscoverIntervalMs?: number;
  /** Options of every engine's watcher. */
  watcher?: WatcherOptions;
  /** Default bound of each fleet subscriber's queue; default 10,000. */
  queueSize?: number;
}

interface Member {
  key: string;
  found: FoundEngine;
  ref: EngineRef;
  watcher: Watcher;
  watching: Promise<void>;
  forwarding: Promise<void>;
}

function keyOf(e: FoundEngine): string {
  return `${e.type} ${e.endpoint}`;
}

/**
 * Watches every engine discovery finds, each with its own watcher;
 * rediscovers periodically and on demand, so an engine started later is
 * picked up and one that vanished is dropped (its containers' `exited`
 * events are emitted).
 *
 * @example
 * ```ts ignore
 * import { Fleet } from "@whalewatcher/whalewatcher";
 * await using fleet = new Fleet({ rediscoverIntervalMs: 10_000 });
 * await fleet.ready;
 * for (const { engine, container } of fleet.containers()) {
 *   console.log(engine.type, container.name, container.pid);
 * }
 * for await (const e of fleet.events()) console.log(e.engine.type, e.type, e.container.name);
 * ```
 */
export class Fleet implements AsyncDisposable {
  /**
   * Resolves when every engine found at start has synced (or failed);
   * rejects with {@linkcode NoEngineFoundError} when option `required` is
   * set and the first discovery found none.
   */
  readonly ready: Promise<void>;
  /** What the last discovery found and rejected. */
  lastDiscovery: DiscoveryResult = { engines: [], rejected: [], warnings: [] };

  #options: FleetOptions;
  #members = new Map<string, Member>();
  #subscribers = new Set<SubscriberQueue<FleetEvent>>();
  #lifetime = new AbortController();
  #timer: ReturnType<typeof setInterval> | undefined;
  #rediscovering: Promise<void> | undefined;
  #discoveries = 0;
  #closing: Promise<void> | undefined;

  /** Starts discovering and watching at once. */
  constructor(options: FleetOptions = {}) {
    this.#options = options;
    this.ready = this.rediscover().then(async () => {
      await Promise.all(
        [...this.#members.values()].map((m) => m.watcher.ready.catch(() => {})),
      );
    });
    this.ready.catch(() => {});
    if (options.rediscoverIntervalMs && options.rediscoverIntervalMs > 0) {
      this.#timer = setInterval(() => {
        this.rediscover().catch(() => {});
      }, options.rediscoverIntervalMs);
    }
  }

  /** The engines being watched. */
  engines(): { engine: EngineRef; watcher: Watcher }[] {
    return [...this.#members.values()].map((m) => ({
      engine: m.ref,
      watcher: m.watcher,
    }));
  }

  /** All alive containers of all engines, with their engine. */
  containers(): FleetContainer[] {
    const all: FleetContainer[] = [];
    for (const m of this.#members.values()) {
      for (const container of m.watcher.portfolio.containers()) {
        all.push({ engine: m.ref, container });
      }
    }
    return all;
  }

  /**
   * Subscribes to the events of all engines (synchronously, like
   * {@linkcode Watcher.events}); ends when the fleet closes or the signal
   * aborts; throws {@linkcode SubscriberOverflowError} when this subscriber
   * fell more than `queueSize` behind.
   */
  events(options: EventsOptions = {}): AsyncIterableIterator<FleetEvent> {
    const size = Math.max(
      1,
      options.queueSize ?? this.#options.queueSize ?? 10_000,
    );
    const queue = new SubscriberQueue<FleetEvent>(
      size,
      () => new SubscriberOverflowError(size, { engine: "fleet" }),
      { signal: options.signal, onEnd: (q) => this.#subscribers.delete(q) },
    );
    if (this.#lifetime.signal.aborted || options.signal?.aborted) queue.end();
    else this.#subscribers.add(queue);
    return queue;
  }

  /**
   * Discovers again: starts watching new engines, drops vanished ones. Calls
   * made while one runs share it.
   */
  rediscover(): Promise<void> {
    this.#rediscovering ??= this.#rediscover().finally(() => {
      this.#rediscovering = undefined;
    });
    return this.#rediscovering;
  }

  async #rediscover(): Promise<void> {
    if (this.#lifetime.signal.aborted) return;
    // Never required here: vanished engines must still be dropped.
    const found = await discoverEngines({
      ...this.#options,
      required: false,
      signal: this.#lifetime.signal,
    });
    if (this.#lifetime.signal.aborted) return;
    const first = this.#discoveries++ === 0;
    this.lastDiscovery = found;
    const present = new Map(found.engines.map((e) => [keyOf(e), e]));
    // A busy engine may miss a probe's deadline: only a socket or process
    // that vanished (or a socket nobody answers on) drops it.
    const stalled = new Set(
      found.rejected.filter((r) => r.reason === "timeout").map((r) =>
        r.endpoint
      ),
    );
    for (const [key, member] of this.#members) {
      const now = present.get(key);
      if (now) {
        // Restarted on the same socket: its watcher reconnects by itself;
        // later events name the new process.
        if (now.pid && now.pid !== member.ref.pid) {
          member.found = now;
          member.ref = Object.freeze({ ...member.ref, pid: now.pid });
        }
        continue;
      }
      if (
        stalled.has(member.found.endpoint) && await this.#alive(member.ref.pid)
      ) continue;
      await this.#drop(member);
    }
    await Promise.all(
      found.engines.filter((e) => !this.#members.has(keyOf(e))).map((e) =>
        this.#add(e, found)
      ),
    );
    if (first && this.#options.required && this.#members.size === 0) {
      throw new NoEngineFoundError(found);
    }
  }

  async #add(e: FoundEngine, found: DiscoveryResult): Promise<void> {
    const registry = this.#options.registry ?? engineRegistry;
    let watcher: Watcher;
    try {
      watcher = await createWatcher(e.adapter, e.endpoint, {
        ...this.#options.watcher,
        registry,
        engine: { pid: e.pid, type: e.type },
      });
    } catch (err) {
      // Told in lastDiscovery; the next rediscovery tries again.
      found.rejected.push({
        endpoint: e.endpoint,
        source: e.source,
        pid: e.pid,
        reason: "error",
        message: `watching "${e.endpoint}" as ${e.type} failed: ${
          (err as Error)?.message ?? err
        }`,
      });
      return;
    }
    // The engine's ID tells apart engines reached at several endpoints.
    const id = await watcher.id({
      signal: AbortSignal.any([
        this.#lifetime.signal,
        AbortSignal.timeout(this.#options.probeTimeoutMs ?? 2000),
      ]),
    }).catch(() => undefined);
    const ref: EngineRef = Object.freeze({
      type: watcher.type,
      api: watcher.api || e.endpoint,
      pid: watcher.pid || e.pid,
      ...(id ? { id } : {}),
    });
    if (this.#lifetime.signal.aborted) {
      await watcher.close();
      return;
    }
    const member: Member = {
      key: keyOf(e),
      found: e,
      ref,
      watcher,
      watching: Promise.resolve(),
      forwarding: Promise.resolve(),
    };
    // Subscribed before watching: the initial sync's starts are forwarded.
    const sub = watcher.events({ queueSize: Number.MAX_SAFE_INTEGER });
    member.forwarding = (async () => {
      try {
        for await (const event of sub) {
          this.#fan({ ...event, engine: member.ref });
        }
      } catch {
        // the watch ended with an error; the member is dropped or retried
      }
    })();
    member.watching = watcher.watch(this.#lifetime.signal).catch(() => {});
    this.#members.set(member.key, member);
  }

  /** Whether process `pid` lives; true when unknown (0, or no procfs). */
  async #alive(pid: number): Promise<boolean> {
    if (!pid) return true;
    try {
      await Deno.stat(`${this.#options.procRoot ?? "/proc"}/${pid}`);
      return true;
    } catch (err) {
      return !(err instanceof Deno.errors.NotFound);
    }
  }

  async #drop(member: Member): Promise<void> {
    this.#members.delete(member.key);
    const containers = member.watcher.portfolio.containers();
    await member.watcher.close();
    await member.forwarding;
    const now = Date.now();
    for (const container of containers) {
      this.#fan({
        type: "exited",
        id: container.id,
        project: container.project,
        timestamp: now,
        container,
        engine: member.ref,
      });
    }
  }

  #fan(event: FleetEvent): void {
    for (const q of this.#subscribers) q.push(event);
  }

  /** Stops every watcher, ends every subscription; calling it again is harmless. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#timer);
      this.#lifetime.abort();
      await this.#rediscovering?.catch(() => {});
      await Promise.all(
        [...this.#members.values()].map(async (m) => {
          await m.watcher.close();
          await m.watching;
          await m.forwarding;
        }),
      );
      this.#members.clear();
      for (const q of this.#subscribers) q.end();
      this.#subscribers.clear();
    })();
    return this.#closing;
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
