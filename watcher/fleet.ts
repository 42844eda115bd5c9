/**
 * The fleet: one watcher per discovered engine, a combined view of all
 * their containers, and one merged event stream with engine attribution
 * and engine changes.
 *
 * @module
 */

import type { Container } from "../engineclient/mod.ts";
import { engineRegistry } from "../engineclient/mod.ts";
import { AsyncQueue } from "../engineclient/_async.ts";
import {
  discoverEngines,
  type DiscoveryOptions,
  type DiscoveryResult,
  type FoundEngine,
  NoEngineFoundError,
} from "./discovery/mod.ts";
import { SubscriberOverflowError } from "./errors.ts";
import {
  _watcherListeners as listeners,
  type EventsOptions,
  type Watcher,
  type WatcherEvent,
  type WatcherOptions,
  type WatcherState,
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
  readonly type: string;
  /** The engine's endpoint. */
  readonly api: string;
  /** Engine PID when known, else 0. */
  readonly pid: number;
  /** The engine's own ID (e.g. Docker's daemon ID), when it told. */
  readonly id?: string;
  /** The engine's version, when the probe or the engine told. */
  readonly version?: string;
}

/**
 * A container lifecycle event of any engine of the fleet.
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
 * A change of the fleet's engines, in the same stream as the container
 * events when asked for (`events({ engines: true })`): `engine-added` when
 * the fleet starts watching an engine (its initial `started` events
 * follow), `engine-ready` once its first list is merged, `engine-failed`
 * when its watch ended with an error that retrying cannot fix, and
 * `engine-removed` after the `exited` events of its containers when it
 * vanished.
 *
 * @example
 * ```ts
 * import type { FleetEngineEvent } from "@whalewatcher/whalewatcher";
 * function show(e: FleetEngineEvent) {
 *   console.log(e.type, e.engine.type, e.engine.api, e.error ?? "");
 * }
 * ```
 */
export interface FleetEngineEvent {
  /** What happened to the engine. */
  readonly type:
    | "engine-added"
    | "engine-ready"
    | "engine-failed"
    | "engine-removed";
  /** The engine. */
  readonly engine: EngineRef;
  /** When the fleet saw it (ms since the epoch). */
  readonly timestamp: number;
  /** Why the watch failed, for `engine-failed`. */
  readonly error?: unknown;
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
 * An engine the fleet watches, with its watcher and where it stands.
 *
 * @example
 * ```ts
 * import type { FleetEngineInfo } from "@whalewatcher/whalewatcher";
 * const up = (e: FleetEngineInfo) => e.state === "ready";
 * ```
 */
export interface FleetEngineInfo {
  /** The engine. */
  readonly engine: EngineRef;
  /** Its watcher. */
  readonly watcher: Watcher;
  /** The watcher's state. */
  readonly state: WatcherState;
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
  /**
   * The longest {@linkcode Fleet.ready} waits for the engines found at
   * start to become ready (an engine that keeps failing transiently goes
   * on retrying meanwhile); default 15,000 ms.
   */
  readyTimeoutMs?: number;
}

/**
 * Options of {@linkcode Fleet.events}.
 *
 * @example
 * ```ts
 * import type { FleetEventsOptions } from "@whalewatcher/whalewatcher";
 * const options: FleetEventsOptions = { engines: true, queueSize: 1000 };
 * ```
 */
export interface FleetEventsOptions extends EventsOptions {
  /** Also deliver {@linkcode FleetEngineEvent}s, in order with the rest. */
  engines?: boolean;
}

interface Member {
  key: string;
  found: FoundEngine;
  ref: EngineRef;
  watcher: Watcher;
  watching: Promise<void>;
  listener: (event: WatcherEvent) => void;
  // A watch that failed is tried again by a later rediscovery, less and
  // less often; its failure is told again only when it changes.
  failures: number;
  retryAt: number;
  lastFailure: string;
}

/** The first wait before a failed engine is watched again, doubling. */
const RETRY_FAILED_MS = 5_000;
const RETRY_FAILED_MAX_MS = 300_000;

interface Subscriber {
  queue: AsyncQueue<FleetEvent | FleetEngineEvent>;
  engines: boolean;
}

function keyOf(e: FoundEngine): string {
  return `${e.type} ${e.endpoint}`;
}

/**
 * Watches every engine discovery finds, each with its own watcher;
 * rediscovers periodically and on demand, so an engine started later is
 * picked up and one that vanished is dropped (its containers' `exited`
 * events are emitted). The merged stream keeps each engine's order: the
 * fleet forwards each event as its watcher emits it.
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
   * Resolves when every engine found at start is ready or has failed, or
   * when `readyTimeoutMs` passed; rejects with `NoEngineFoundError` when
   * option `required` is set and the first discovery found none.
   */
  readonly ready: Promise<void>;
  /** What the last discovery found and rejected. */
  lastDiscovery: DiscoveryResult = { engines: [], rejected: [], warnings: [] };

  #options: FleetOptions;
  #members = new Map<string, Member>();
  #subscribers = new Set<Subscriber>();
  #lifetime = new AbortController();
  #timer: ReturnType<typeof setInterval> | undefined;
  #rediscovering: Promise<void> | undefined;
  #discoveries = 0;
  #closing: Promise<void> | undefined;

  /** Starts discovering and watching at once. */
  constructor(options: FleetOptions = {}) {
    this.#options = options;
    this.ready = this.rediscover().then(() => this.#settled());
    this.ready.catch(() => {});
    if (options.rediscoverIntervalMs && options.rediscoverIntervalMs > 0) {
      this.#timer = setInterval(() => {
        this.rediscover().catch(() => {});
      }, options.rediscoverIntervalMs);
    }
  }

  // Every member ready or failed, or the ready timeout passed.
  async #settled(): Promise<void> {
    const all = Promise.all(
      [...this.#members.values()].map((m) => m.watcher.ready.catch(() => {})),
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#options.readyTimeoutMs ?? 15_000);
    });
    const closed = new Promise<void>((resolve) =>
      this.#lifetime.signal.addEventListener("abort", () => resolve(), {
        once: true,
      })
    );
    try {
      await Promise.race([all, timeout, closed]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The engines being watched, with their watchers and states. */
  engines(): FleetEngineInfo[] {
    return [...this.#members.values()].map((m) => ({
      engine: m.ref,
      watcher: m.watcher,
      state: m.watcher.state,
    }));
  }

  /** All alive containers of all engines, with their engine. */
  containers(): FleetContainer[] {
    const all: FleetContainer[] = [];
    for (const m of this.#members.values()) {
      for (const container of m.watcher.portfolio) {
        all.push({ engine: m.ref, container });
      }
    }
    return all;
  }

  /**
   * Subscribes to the events of all engines (synchronously, like
   * `Watcher.events`) and, with `engines: true`, to the engine changes;
   * ends when the fleet closes or the signal aborts; throws
   * `SubscriberOverflowError` when this subscriber fell more than
   * `queueSize` behind.
   */
  events(
    options: FleetEventsOptions & { engines: true },
  ): AsyncIterableIterator<FleetEvent | FleetEngineEvent>;
  /** Subscribes to the container events of all engines. */
  events(options?: EventsOptions): AsyncIterableIterator<FleetEvent>;
  /** Subscribes to the container events, and engine changes when asked. */
  events(
    options: FleetEventsOptions = {},
  ): AsyncIterableIterator<FleetEvent | FleetEngineEvent> {
    const size = Math.max(
      1,
      options.queueSize ?? this.#options.queueSize ?? 10_000,
    );
    const subscriber: Subscriber = {
      engines: options.engines ?? false,
      queue: new AsyncQueue({
        capacity: size,
        overflow: () => new SubscriberOverflowError(size, { engine: "fleet" }),
        signal: options.signal,
        onEnd: () => this.#subscribers.delete(subscriber),
      }),
    };
    if (this.#lifetime.signal.aborted) subscriber.queue.end();
    else if (!subscriber.queue.ended) this.#subscribers.add(subscriber);
    return subscriber.queue;
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
    await this.#dropVanished(found);
    await Promise.all(
      found.engines.filter((e) => !this.#members.has(keyOf(e))).map((e) =>
        this.#add(e, found)
      ),
    );
    if (first && this.#options.required && this.#members.size === 0) {
      throw new NoEngineFoundError(found);
    }
  }

  async #dropVanished(found: DiscoveryResult): Promise<void> {
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
      if (
        now && member.watcher.state === "failed" && Date.now() >= member.retryAt
      ) {
        await this.#retry(member);
        continue;
      }
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
  }

  async #add(e: FoundEngine, found: DiscoveryResult): Promise<void> {
    const registry = this.#options.registry ?? engineRegistry;
    let watcher: Watcher;
    try {
      watcher = await createWatcher(e.adapter, e.endpoint, {
        ...this.#options.watcher,
        registry,
        engine: { ...e.options, pid: e.pid, type: e.type },
      });
    } catch (err) {
      // Told in lastDiscovery; the next rediscovery tries again.
      found.rejected.push({
        endpoint: e.endpoint,
        source: e.source,
        pid: e.pid,
        types: [e.adapter],
        reason: "error",
        message: `watching "${e.endpoint}" as ${e.type} failed: ${
          (err as Error)?.message ?? err
        }`,
        error: err,
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
    if (this.#lifetime.signal.aborted || this.#members.has(keyOf(e))) {
      await watcher.close();
      return;
    }
    this.#watch(e, watcher, id);
  }

  #watch(e: FoundEngine, watcher: Watcher, id: string | undefined): void {
    const member: Member = {
      key: keyOf(e),
      found: e,
      ref: Object.freeze({
        type: watcher.type,
        api: watcher.api || e.endpoint,
        pid: watcher.pid || e.pid,
        ...(id ? { id } : {}),
        ...(e.version ? { version: e.version } : {}),
      }),
      watcher,
      watching: Promise.resolve(),
      // Forwarded as the watcher emits: the initial sync's starts too.
      listener: (event) => this.#fan({ ...event, engine: member.ref }),
      failures: 0,
      retryAt: 0,
      lastFailure: "",
    };
    this.#members.set(member.key, member);
    this.#fanEngine("engine-added", member.ref);
    this.#start(member);
  }

  #start(member: Member): void {
    const watcher = member.watcher;
    listeners.add(watcher, member.listener);
    member.watching = watcher.watch(this.#lifetime.signal).catch((error) => {
      if (this.#members.get(member.key) !== member) return;
      member.failures++;
      member.retryAt = Date.now() + Math.min(
        RETRY_FAILED_MS * 2 ** (member.failures - 1),
        RETRY_FAILED_MAX_MS,
      );
      const told = String((error as Error)?.message ?? error);
      if (told === member.lastFailure) return;
      member.lastFailure = told;
      this.#fanEngine("engine-failed", member.ref, error);
    });
    watcher.ready.then(() => {
      if (this.#members.get(member.key) !== member) return;
      member.failures = 0;
      member.lastFailure = "";
      this.#fanEngine("engine-ready", member.ref);
    }, () => {});
  }

  // Watches a failed engine that discovery still finds with a new watcher.
  async #retry(member: Member): Promise<void> {
    const registry = this.#options.registry ?? engineRegistry;
    let watcher: Watcher;
    try {
      watcher = await createWatcher(
        member.found.adapter,
        member.found.endpoint,
        {
          ...this.#options.watcher,
          registry,
          engine: {
            ...member.found.options,
            pid: member.found.pid,
            type: member.found.type,
          },
        },
      );
    } catch {
      return; // the next rediscovery tries again
    }
    listeners.delete(member.watcher, member.listener);
    await member.watcher.close();
    await member.watching;
    if (
      this.#lifetime.signal.aborted || this.#members.get(member.key) !== member
    ) {
      await watcher.close();
      return;
    }
    member.watcher = watcher;
    this.#start(member);
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

  // Stops forwarding first, then reports the containers of the portfolio as
  // it stands after everything forwarded so far: no `started` can follow
  // the engine's final `exited`s.
  async #drop(member: Member): Promise<void> {
    this.#members.delete(member.key);
    listeners.delete(member.watcher, member.listener);
    this.#exitAll(member);
    this.#fanEngine("engine-removed", member.ref);
    await member.watcher.close();
    await member.watching;
  }

  // An `exited` for each container the member's watcher holds.
  #exitAll(member: Member): void {
    const now = Date.now();
    for (const container of member.watcher.portfolio.containers()) {
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
    for (const s of this.#subscribers) s.queue.push(event);
  }

  #fanEngine(
    type: FleetEngineEvent["type"],
    engine: EngineRef,
    error?: unknown,
  ): void {
    const event: FleetEngineEvent = Object.freeze({
      type,
      engine,
      timestamp: Date.now(),
      ...(error === undefined ? {} : { error }),
    });
    for (const s of this.#subscribers) if (s.engines) s.queue.push(event);
  }

  /** Stops every watcher, ends every subscription; calling it again is harmless. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#timer);
      this.#lifetime.abort();
      await this.#rediscovering?.catch(() => {});
      await Promise.all(
        [...this.#members.values()].map(async (m) => {
          listeners.delete(m.watcher, m.listener);
          await m.watcher.close();
          await m.watching;
        }),
      );
      this.#members.clear();
      for (const s of this.#subscribers) s.queue.end();
      this.#subscribers.clear();
    })();
    return this.#closing;
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
