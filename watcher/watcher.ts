/**
 * The watcher: keeps a portfolio of one engine's alive containers in sync
 * and fans its lifecycle events out to subscribers.
 *
 * @module
 */

import {
  type CallOptions,
  type Container,
  type ContainerEvent,
  type ContainerEventType,
  type EngineClient,
  isPreflighter,
  isProcesslessContainerError,
  withPaused,
} from "../engineclient/mod.ts";
import { backoffDelay, type BackoffOptions } from "./backoff.ts";
import { SubscriberOverflowError, WatcherClosedError } from "./errors.ts";
import { _portfolioWriter as writer, Portfolio } from "./portfolio.ts";
import { SubscriberQueue } from "./_subscriber_queue.ts";
import { sleep } from "./_sleep.ts";

/**
 * A lifecycle event as the watcher delivers it: the project is resolved
 * (never `PROJECT_UNKNOWN`) and the container is attached — for `exited`,
 * the container as it was last seen.
 *
 * @example
 * ```ts
 * import type { Watcher, WatcherEvent } from "@whalewatcher/whalewatcher";
 * declare const watcher: Watcher;
 * for await (const e of watcher.events()) {
 *   const event: WatcherEvent = e;
 *   console.log(event.type, event.container.name, event.container.pid);
 * }
 * ```
 */
export interface WatcherEvent extends ContainerEvent {
  /** The container the event is about. */
  readonly container: Container;
}

/**
 * Options of a {@linkcode Watcher}.
 *
 * @example
 * ```ts
 * import type { WatcherOptions } from "@whalewatcher/whalewatcher";
 * const options: WatcherOptions = {
 *   backoff: { initialMs: 100, maxMs: 10_000 },
 *   queueSize: 1000,
 *   reconcileIntervalMs: 60_000,
 * };
 * ```
 */
export interface WatcherOptions {
  /**
   * Backoff between resync attempts after a lost event stream or a failed
   * list; the watcher retries until aborted. `false`: no retry, `watch()`
   * rejects with the first failure.
   */
  backoff?: BackoffOptions | false;
  /** Default bound of each subscriber's event queue; default 10,000. */
  queueSize?: number;
  /**
   * Relist every so many milliseconds while watching and emit the
   * difference to the portfolio (catches a stream that silently stopped
   * delivering). Default 30,000 (one list per 30 s: for Docker a list plus
   * an inspect per container); `0`: off.
   */
  reconcileIntervalMs?: number;
  /**
   * How long subscribing or listing may take before the engine counts as
   * stalled (frozen, or its connection silently dead): the session is then
   * failed and resynchronized with backoff. Default 10,000; `0`: never.
   * Together with `reconcileIntervalMs` this also catches an event stream
   * that stays open but delivers nothing.
   */
  stallTimeoutMs?: number;
}

/**
 * Options of {@linkcode Watcher.events}.
 *
 * @example
 * ```ts
 * import type { EventsOptions } from "@whalewatcher/whalewatcher";
 * const options: EventsOptions = { signal: AbortSignal.timeout(60_000), queueSize: 100 };
 * ```
 */
export interface EventsOptions {
  /** Ends the subscription (quietly) when aborted. */
  signal?: AbortSignal;
  /** Bound of this subscriber's queue; default: the watcher's `queueSize`. */
  queueSize?: number;
}

const DEFAULT_QUEUE_SIZE = 10_000;
const DEFAULT_STALL_TIMEOUT_MS = 10_000;
const DEFAULT_RECONCILE_INTERVAL_MS = 30_000;

// A start event whose inspection is still running; a later exit cancels it
// (by removing it from the pending map) and pause events are noted in it.
interface PendingStart {
  paused: boolean | undefined;
}

// Bounds one engine call by the stall timeout.
type Guard = <T>(what: string, call: Promise<T>) => Promise<T>;

// What happened while a list ran; merged with the list result.
interface SyncWindow {
  exited: Set<string>;
  started: Map<string, Container>;
  paused: Map<string, boolean>;
}

/**
 * Watches one container engine: keeps its {@linkcode Portfolio} of alive
 * containers synchronized and streams lifecycle events to subscribers,
 * consistently with the portfolio — including the synthetic events of the
 * initial synchronization and of every resynchronization.
 *
 * How it syncs: subscribe to the engine's events first, then list. While
 * the list runs, an exit drops the container from the list result (unless
 * a later start re-adds it), pause changes are replayed on top of it, and
 * starts are inspected and added at once. Events also update the portfolio
 * live, so it never goes stale during a resync; when the list is merged,
 * subscribers get only the difference. After losing the event stream, or a
 * failed list, it retries with backoff while the old portfolio stays
 * readable.
 *
 * @example
 * ```ts
 * import { Watcher, type EngineClient } from "@whalewatcher/whalewatcher";
 * declare const engine: EngineClient;
 *
 * await using watcher = new Watcher(engine);
 * const controller = new AbortController();
 * const watching = watcher.watch(controller.signal);
 * await watcher.ready;
 * console.log(watcher.portfolio.containers().map((c) => c.name));
 * for await (const event of watcher.events()) {
 *   console.log(event.type, event.container.name);
 *   if (event.type === "exited") break;
 * }
 * controller.abort();
 * await watching;
 * ```
 */
export class Watcher implements AsyncDisposable {
  /** The engine client this watcher watches (and closes on close). */
  readonly engine: EngineClient;
  /**
   * Resolves when the first list is merged into the portfolio. Rejects when
   * the watch ends before that: with the failure when backoff is disabled,
   * or with a {@linkcode WatcherClosedError} / the abort reason. Marked
   * handled, so an un-awaited rejection is not reported.
   */
  readonly ready: Promise<void>;

  #portfolio = new Portfolio();
  #subscribers = new Set<SubscriberQueue<WatcherEvent>>();
  #options: WatcherOptions;
  #lifetime = new AbortController();
  #closed = false;
  #closing: Promise<void> | undefined;
  #watching: Promise<void> | undefined;
  #readyState: "pending" | "resolved" | "rejected" = "pending";
  #resolveReady!: () => void;
  #rejectReady!: (err: unknown) => void;
  #syncs = 0;
  #lastError: unknown = undefined;

  // State of the current session (one event subscription).
  #session: AbortController | undefined;
  #callOptions: CallOptions = {}; // the session's, shared by its inspects
  #pending = new Map<string, PendingStart>();
  #window: SyncWindow | undefined;
  #inflight = 0; // inspects running
  #idle: (() => void) | undefined; // resolves when #inflight drops to 0

  /** Makes a watcher of `engine`; it does nothing until {@linkcode watch}. */
  constructor(engine: EngineClient, options: WatcherOptions = {}) {
    this.engine = engine;
    this.#options = options;
    this.ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.ready.catch(() => {});
  }

  /** The current portfolio; always readable, also while resyncing. */
  get portfolio(): Portfolio {
    return this.#portfolio;
  }

  /** Engine type string (from the engine client). */
  get type(): string {
    return this.engine.type;
  }

  /** API endpoint of the engine. */
  get api(): string {
    return this.engine.api;
  }

  /** PID of the engine process, 0 when unknown. */
  get pid(): number {
    return this.engine.pid;
  }

  /** The underlying engine-specific client. */
  get client(): unknown {
    return this.engine.client;
  }

  /** How many times a list has been merged into the portfolio. */
  get syncCount(): number {
    return this.#syncs;
  }

  /** The last failure that made the watcher resync, if any. */
  get lastError(): unknown {
    return this.#lastError;
  }

  /** Whether {@linkcode watch} is running. */
  get watching(): boolean {
    return this.#watching !== undefined;
  }

  /** The engine's identifier. */
  id(options?: CallOptions): Promise<string> {
    return this.engine.id(options);
  }

  /** The engine's version information. */
  version(options?: CallOptions): Promise<string> {
    return this.engine.version(options);
  }

  /**
   * Subscribes to lifecycle events. The subscription starts at this call
   * (synchronously), so reading the portfolio right after it misses
   * nothing. Subscribers that exist before {@linkcode ready} get a `started`
   * for each container of the initial list. The iteration ends when the
   * signal aborts, the watch ends or the watcher closes; it throws the
   * watch's failure, or a {@linkcode SubscriberOverflowError} when this
   * subscriber fell more than `queueSize` events behind.
   */
  events(options: EventsOptions = {}): AsyncIterableIterator<WatcherEvent> {
    const size = Math.max(
      1,
      options.queueSize ?? this.#options.queueSize ?? DEFAULT_QUEUE_SIZE,
    );
    const queue = new SubscriberQueue<WatcherEvent>(
      size,
      () => new SubscriberOverflowError(size, { engine: this.engine.type }),
      {
        signal: options.signal,
        onEnd: (q) => this.#subscribers.delete(q),
      },
    );
    if (this.#closed || options.signal?.aborted) queue.end();
    else this.#subscribers.add(queue);
    return queue;
  }

  /**
   * Watches until `signal` aborts or the watcher closes: synchronizes, then
   * follows events, and resynchronizes with backoff after failures.
   * Resolves when aborted; rejects only when backoff is disabled and an
   * attempt failed, or when already watching or closed.
   */
  watch(signal?: AbortSignal): Promise<void> {
    if (this.#closed) {
      return Promise.reject(
        new WatcherClosedError(this.engine.type, this.engine.api),
      );
    }
    if (this.#watching) {
      return Promise.reject(
        new Error(
          `watcher of ${this.engine.type} engine at "${this.engine.api}" is already watching`,
        ),
      );
    }
    const watching = this.#run(signal).finally(() => {
      this.#watching = undefined;
    });
    this.#watching = watching;
    return watching;
  }

  /**
   * Stops watching, ends every subscription and closes the engine client.
   * Calling it again is harmless.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      const reason = new WatcherClosedError(this.engine.type, this.engine.api);
      this.#lifetime.abort(reason);
      try {
        await this.#watching;
      } catch {
        // The watch's failure went to its caller already.
      }
      this.#settleReady(reason);
      for (const q of this.#subscribers) q.end();
      this.#subscribers.clear();
      await this.engine.close();
    })();
    return this.#closing;
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #run(signal?: AbortSignal): Promise<void> {
    const controller = new AbortController();
    const onAbort = () => {
      controller.abort(
        signal?.aborted ? signal.reason : this.#lifetime.signal.reason,
      );
    };
    if (signal?.aborted || this.#lifetime.signal.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#lifetime.signal.addEventListener("abort", onAbort, { once: true });
    const backoff = this.#options.backoff;
    let attempt = 0;
    let failure: unknown = undefined;
    try {
      while (!controller.signal.aborted) {
        const syncsBefore = this.#syncs;
        try {
          await this.#runSession(controller.signal);
        } catch (err) {
          if (controller.signal.aborted) break;
          this.#lastError = err;
          if (backoff === false) {
            failure = err;
            throw err;
          }
          // A session that got synced resets the backoff.
          if (this.#syncs !== syncsBefore) attempt = 0;
          try {
            await sleep(backoffDelay(attempt++, backoff), controller.signal);
          } catch {
            break;
          }
        }
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.#lifetime.signal.removeEventListener("abort", onAbort);
      this.#settleReady(failure ?? controller.signal.reason);
      for (const q of this.#subscribers) q.end(failure);
      this.#subscribers.clear();
    }
  }

  // One event subscription: subscribe, list and merge, then follow events
  // until the stream fails (throws) or the watch is aborted (returns).
  async #runSession(signal: AbortSignal): Promise<void> {
    const session = new AbortController();
    const onAbort = () => session.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    this.#session = session;
    this.#callOptions = { signal: session.signal };
    let pump: Promise<void> | undefined;
    let reconcile: Promise<void> | undefined;
    const fail = (err: unknown) => {
      if (!session.signal.aborted) session.abort(err);
    };
    // A watchdog: an engine call that takes longer than the stall timeout
    // fails the session (which cancels the call) so that it resyncs.
    const stallMs = this.#options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    const guard = <T>(what: string, call: Promise<T>): Promise<T> => {
      if (!(stallMs > 0)) return call;
      const timer = setTimeout(
        () =>
          fail(
            new Error(
              `${what} of ${this.engine.type} engine at "${this.engine.api}" stalled: no answer within ${stallMs} ms`,
            ),
          ),
        stallMs,
      );
      return call.finally(() => clearTimeout(timer));
    };
    try {
      if (isPreflighter(this.engine)) {
        await this.engine.preflight({ signal: session.signal });
      }
      const events = await guard(
        "subscribing to events",
        this.engine.lifecycleEvents({ signal: session.signal }),
      );
      pump = this.#pump(events, session.signal).then(
        () =>
          fail(
            new Error(
              `event stream of ${this.engine.type} engine at "${this.engine.api}" ended unexpectedly`,
            ),
          ),
        fail,
      );
      await this.#sync(session.signal, guard);
      this.#settleReady();
      const interval = this.#options.reconcileIntervalMs ??
        DEFAULT_RECONCILE_INTERVAL_MS;
      if (interval > 0) {
        reconcile = this.#reconcile(interval, session.signal, guard).catch(
          fail,
        );
      }
      await pump;
      if (!signal.aborted) throw session.signal.reason;
    } finally {
      signal.removeEventListener("abort", onAbort);
      session.abort();
      // Inspect answers arriving from now on are dropped: the next
      // session's list covers their containers.
      this.#pending.clear();
      this.#window = undefined;
      if (pump) await pump;
      if (reconcile) await reconcile;
      if (this.#inflight > 0) {
        await new Promise<void>((resolve) => (this.#idle = resolve));
      }
      this.#pending.clear();
      this.#window = undefined;
      this.#session = undefined;
    }
  }

  async #pump(
    events: AsyncIterable<ContainerEvent>,
    signal: AbortSignal,
  ): Promise<void> {
    for await (const event of events) {
      if (signal.aborted) break;
      this.#onEvent(event, signal);
    }
  }

  async #reconcile(
    interval: number,
    signal: AbortSignal,
    guard: Guard,
  ): Promise<void> {
    while (!signal.aborted) {
      try {
        await sleep(interval, signal);
      } catch {
        return;
      }
      await this.#sync(signal, guard);
    }
  }

  // Lists and merges; events arriving meanwhile are noted in a window.
  async #sync(signal: AbortSignal, guard: Guard): Promise<void> {
    const window: SyncWindow = {
      exited: new Set(),
      started: new Map(),
      paused: new Map(),
    };
    this.#window = window;
    try {
      const listed = await guard("listing", this.engine.list({ signal }));
      signal.throwIfAborted();
      this.#merge(listed, window);
    } finally {
      if (this.#window === window) this.#window = undefined;
    }
  }

  #merge(listed: readonly Container[], window: SyncWindow): void {
    const next = new Map<string, Container>();
    for (const c of listed) next.set(c.id, c);
    for (const id of window.exited) next.delete(id);
    for (const [id, c] of window.started) next.set(id, c);
    for (const [id, paused] of window.paused) {
      const c = next.get(id);
      if (c) next.set(id, withPaused(c, paused));
    }
    const portfolio = this.#portfolio;
    const now = Date.now();
    if (portfolio.size > 0) {
      const gone: Container[] = [];
      for (const c of portfolio) if (!next.has(c.id)) gone.push(c);
      for (const c of gone) {
        writer.delete(portfolio, c.id);
        this.#emit("exited", c, now);
      }
    }
    for (const c of next.values()) this.#put(c, now);
    this.#syncs++;
  }

  // Puts a container that is alive into the portfolio and emits what
  // changed: started when new; exited + started when it is another
  // incarnation (other PID); paused/unpaused when only that changed.
  #put(c: Container, timestamp: number): void {
    const portfolio = this.#portfolio;
    const old = writer.get(portfolio, c.id);
    if (old === c) return;
    if (old === undefined) {
      writer.set(portfolio, c);
      this.#emit("started", c, timestamp);
    } else if (old.pid !== c.pid && old.pid !== 0 && c.pid !== 0) {
      writer.set(portfolio, c);
      this.#emit("exited", old, timestamp);
      this.#emit("started", c, timestamp);
    } else {
      writer.set(portfolio, c);
      if (old.paused !== c.paused) {
        this.#emit(c.paused ? "paused" : "unpaused", c, timestamp);
      }
    }
  }

  #onEvent(event: ContainerEvent, signal: AbortSignal): void {
    const id = event.id;
    switch (event.type) {
      case "started": {
        const token: PendingStart = { paused: undefined };
        this.#pending.set(id, token);
        this.#inflight++;
        this.engine.inspect(id, this.#callOptions).then(
          (c) => {
            this.#inspected();
            this.#started(id, c, token, event.timestamp);
          },
          (err) => {
            this.#inspected();
            if (this.#pending.get(id) === token) this.#pending.delete(id);
            if (signal.aborted || isProcesslessContainerError(err)) return;
            // The engine failed otherwise: resync from a fresh list.
            const session = this.#session;
            if (session && session.signal === signal) session.abort(err);
          },
        );
        return;
      }
      case "exited": {
        this.#pending.delete(id);
        const window = this.#window;
        if (window) {
          window.exited.add(id);
          window.started.delete(id);
          window.paused.delete(id);
        }
        const old = writer.delete(this.#portfolio, id);
        if (old) this.#emit("exited", old, event.timestamp);
        return;
      }
      case "paused":
      case "unpaused": {
        const paused = event.type === "paused";
        const token = this.#pending.get(id);
        if (token) token.paused = paused;
        this.#window?.paused.set(id, paused);
        const old = writer.get(this.#portfolio, id);
        if (old && old.paused !== paused) {
          const c = withPaused(old, paused);
          writer.set(this.#portfolio, c);
          this.#emit(event.type, c, event.timestamp);
        }
        return;
      }
    }
  }

  #inspected(): void {
    if (--this.#inflight === 0 && this.#idle) {
      const idle = this.#idle;
      this.#idle = undefined;
      idle();
    }
  }

  #started(
    id: string,
    inspected: Container,
    token: PendingStart,
    timestamp: number,
  ): void {
    // An exit (or a newer start) since the start event cancelled this one.
    if (this.#pending.get(id) !== token) return;
    this.#pending.delete(id);
    const c = token.paused === undefined
      ? inspected
      : withPaused(inspected, token.paused);
    const window = this.#window;
    if (window) {
      window.started.set(c.id, c);
      window.paused.delete(c.id);
    }
    this.#put(c, timestamp);
  }

  #emit(type: ContainerEventType, container: Container, timestamp: number) {
    if (this.#subscribers.size === 0) return;
    const event: WatcherEvent = Object.freeze({
      type,
      id: container.id,
      project: container.project,
      timestamp,
      container,
    });
    for (const q of this.#subscribers) q.push(event);
  }

  #settleReady(error?: unknown): void {
    if (this.#readyState !== "pending") return;
    if (error === undefined) {
      this.#readyState = "resolved";
      this.#resolveReady();
    } else {
      this.#readyState = "rejected";
      this.#rejectReady(error);
    }
  }
}
