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
  EventStreamEndedError,
  isPermanentEngineError,
  isPreflighter,
  isProcesslessContainerError,
  isSummaryLister,
  type SummaryLister,
} from "../engineclient/mod.ts";
import {
  abortable,
  AsyncQueue,
  delay,
  mapPool,
} from "../engineclient/_async.ts";
import { backoffDelay, type BackoffOptions } from "./backoff.ts";
import {
  AlreadyWatchingError,
  EngineStalledError,
  SubscriberOverflowError,
  WatchEndedError,
  WatcherClosedError,
} from "./errors.ts";
import type { Portfolio } from "./portfolio.ts";
import { type PendingStart, PortfolioSync } from "./_sync.ts";

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
   * Reconcile every so many milliseconds while watching: list again and
   * emit the difference to the portfolio (catches events a stream lost or
   * never delivered). With an engine client that is a
   * {@linkcode SummaryLister} (the built-in adaptors are), a pass is a
   * cheap listing — Docker: one call; containerd: one per namespace plus
   * one; CRI: two — and only containers whose ID is new or whose paused
   * state or PID differs are inspected; otherwise it is a full `list()`.
   * Default 30,000; `0`: off.
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

/**
 * Where a {@linkcode Watcher} stands: `"idle"` before {@linkcode Watcher.watch},
 * `"syncing"` until the first list is merged, `"ready"` while in sync,
 * `"resyncing"` after a failure until the next list is merged, `"stopped"`
 * after the watch was aborted, `"failed"` after it ended with an error,
 * `"closed"` after {@linkcode Watcher.close}.
 *
 * @example
 * ```ts
 * import type { WatcherState } from "@whalewatcher/whalewatcher";
 * const healthy = (state: WatcherState) => state === "ready";
 * ```
 */
export type WatcherState =
  | "idle"
  | "syncing"
  | "ready"
  | "resyncing"
  | "stopped"
  | "failed"
  | "closed";

/**
 * Counters of a {@linkcode Watcher}, for health checks and metrics.
 *
 * @example
 * ```ts
 * import type { Watcher } from "@whalewatcher/whalewatcher";
 * declare const watcher: Watcher;
 * const { syncs, resyncs, stalls, lastSyncTime } = watcher.stats;
 * console.log(syncs, resyncs, stalls, (Date.now() - lastSyncTime) / 1000);
 * ```
 */
export interface WatcherStats {
  /** Lists merged into the portfolio: the first, resyncs, reconciliations. */
  syncs: number;
  /** Resynchronizations: sessions that synced again after a failed one. */
  resyncs: number;
  /** Sessions that failed (lost stream, failed list, stall, ...). */
  failures: number;
  /** Failures that were stalls ({@linkcode EngineStalledError}). */
  stalls: number;
  /** Subscriptions ended because their reader fell behind. */
  overflows: number;
  /** When the last list was merged (ms since the epoch); 0 before the first. */
  lastSyncTime: number;
  /**
   * Containers whose state a reconciliation pass corrected: the event
   * stream had lost or not yet delivered their events. Growing steadily
   * means the stream loses events.
   */
  repairs: number;
}

type Listener = (event: WatcherEvent) => void;

// Synchronous listeners, for the fleet of this package only (not exported
// by mod.ts): called at emission, so that a fleet's merged stream keeps
// each watcher's order exactly and nothing sits in a queue in between.
let addListener: (watcher: Watcher, listener: Listener) => void;
let removeListener: (watcher: Watcher, listener: Listener) => void;

/** Adds and removes the fleet's synchronous listeners (internal). */
export const _watcherListeners = {
  /** Calls `listener` with every event `watcher` emits, as it emits it. */
  add(watcher: Watcher, listener: Listener): void {
    addListener(watcher, listener);
  },
  /** Stops calling `listener`. */
  delete(watcher: Watcher, listener: Listener): void {
    removeListener(watcher, listener);
  },
};

const DEFAULT_QUEUE_SIZE = 10_000;
const DEFAULT_STALL_TIMEOUT_MS = 10_000;
const DEFAULT_RECONCILE_INTERVAL_MS = 30_000;
// Inspections a reconciliation pass runs at once (as the adaptors' lists).
const VERIFY_CONCURRENCY = 8;

// Bounds one engine call by the session and the stall timeout.
type Guard = <T>(what: string, call: Promise<T>) => Promise<T>;

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
 * readable. A first attempt that fails for a reason retrying cannot fix
 * (no engine at the endpoint, no permission, not an engine, too old) ends
 * the watch at once with that error.
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
   * the watch ends before that: with the failure when it cannot be fixed by
   * retrying (a typed engine error) or backoff is disabled, or with a
   * {@linkcode WatcherClosedError} / the abort reason. Marked handled, so
   * an un-awaited rejection is not reported.
   */
  readonly ready: Promise<void>;

  #sync = new PortfolioSync((type, c, ts) => this.#emit(type, c, ts));
  #subscribers = new Set<AsyncQueue<WatcherEvent>>();
  #options: WatcherOptions;
  #lifetime = new AbortController();
  #closed = false;
  #closing: Promise<void> | undefined;
  #watching: Promise<void> | undefined;
  #watched = false;
  #readyState: "pending" | "resolved" | "rejected" = "pending";
  #resolveReady!: () => void;
  #rejectReady!: (err: unknown) => void;
  #stats: WatcherStats = {
    syncs: 0,
    resyncs: 0,
    failures: 0,
    stalls: 0,
    overflows: 0,
    lastSyncTime: 0,
    repairs: 0,
  };
  #state: WatcherState = "idle";
  #listeners = new Set<Listener>();
  #lastError: unknown = undefined;

  // State of the current session (one event subscription).
  #session: AbortController | undefined;
  #callOptions: CallOptions = {}; // the session's, shared by its inspects
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
    return this.#sync.portfolio;
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
    return this.#stats.syncs;
  }

  /** Counters of syncs, failures and overflows (a read-only snapshot). */
  get stats(): Readonly<WatcherStats> {
    return { ...this.#stats };
  }

  /** Where the watcher stands; see {@linkcode WatcherState}. */
  get state(): WatcherState {
    return this.#state;
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
    const queue: AsyncQueue<WatcherEvent> = new AsyncQueue({
      capacity: size,
      overflow: () => {
        this.#stats.overflows++;
        return new SubscriberOverflowError(size, { engine: this.engine.type });
      },
      signal: options.signal,
      onEnd: () => this.#subscribers.delete(queue),
    });
    if (this.#closed) queue.end();
    else if (!queue.ended) this.#subscribers.add(queue);
    return queue;
  }

  /**
   * Watches until `signal` aborts or the watcher closes: synchronizes, then
   * follows events, and resynchronizes with backoff after failures.
   * Resolves when aborted; rejects when the first attempt failed for a
   * reason retrying cannot fix, when backoff is disabled and an attempt
   * failed, when already watching ({@linkcode AlreadyWatchingError}), after
   * a watch ended ({@linkcode WatchEndedError}) or when closed.
   */
  watch(signal?: AbortSignal): Promise<void> {
    const { type, api } = this.engine;
    if (this.#closed) return Promise.reject(new WatcherClosedError(type, api));
    if (this.#watching) {
      return Promise.reject(new AlreadyWatchingError(type, api));
    }
    if (this.#watched) return Promise.reject(new WatchEndedError(type, api));
    this.#watched = true;
    this.#state = "syncing";
    const watching = this.#run(signal).then(() => {
      if (this.#state !== "closed") this.#state = "stopped";
    }, (err) => {
      if (this.#state !== "closed") this.#state = "failed";
      throw err;
    }).finally(() => {
      this.#watching = undefined;
    });
    this.#watching = watching;
    return watching;
  }

  /**
   * Stops watching, ends every subscription and closes the engine client
   * (waiting at most the stall timeout for an adaptor that does not close).
   * Calling it again is harmless.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      this.#state = "closed";
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
      await this.#bounded(this.engine.close());
    })();
    return this.#closing;
  }

  /** Same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // Waits for `promise`, but no longer than the stall timeout.
  async #bounded(promise: Promise<unknown>): Promise<void> {
    const ms = this.#stallMs() || DEFAULT_STALL_TIMEOUT_MS;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    });
    try {
      await Promise.race([promise.catch(() => {}), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #stallMs(): number {
    return this.#options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
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
    let failure: unknown = undefined;
    try {
      await this.#retrying(controller.signal);
    } catch (err) {
      failure = err;
      throw err;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.#lifetime.signal.removeEventListener("abort", onAbort);
      this.#settleReady(failure ?? controller.signal.reason);
      for (const q of this.#subscribers) q.end(failure);
      this.#subscribers.clear();
    }
  }

  // Runs sessions until aborted, with backoff between failed ones; throws
  // a failure that retrying cannot fix on the first attempt, or any
  // failure when backoff is off.
  async #retrying(signal: AbortSignal): Promise<void> {
    const backoff = this.#options.backoff;
    let attempt = 0;
    let first = true;
    while (!signal.aborted) {
      const syncsBefore = this.#stats.syncs;
      try {
        await this.#runSession(signal, !first);
      } catch (err) {
        if (signal.aborted) return;
        this.#lastError = err;
        this.#stats.failures++;
        if (err instanceof EngineStalledError) this.#stats.stalls++;
        if (backoff === false || (first && isPermanentEngineError(err))) {
          throw err;
        }
        if (this.#state === "ready") this.#state = "resyncing";
        // A session that got synced resets the backoff.
        if (this.#stats.syncs !== syncsBefore) attempt = 0;
        try {
          await delay(backoffDelay(attempt++, backoff), signal);
        } catch {
          return;
        }
      }
      first = false;
    }
  }

  // A watchdog for one session: an engine call is raced against the
  // session (so an adaptor that ignores its signal cannot hold it up) and
  // against the stall timeout, which fails the session so that it resyncs.
  #guard(session: AbortController): Guard {
    const stallMs = this.#stallMs();
    const { type, api } = this.engine;
    return <T>(what: string, call: Promise<T>): Promise<T> => {
      const raced = abortable(call, session.signal);
      if (!(stallMs > 0)) return raced;
      const timer = setTimeout(() => {
        if (session.signal.aborted) return;
        session.abort(
          new EngineStalledError(api, {
            engine: type,
            what,
            timeoutMs: stallMs,
          }),
        );
      }, stallMs);
      return raced.finally(() => clearTimeout(timer));
    };
  }

  // One event subscription: subscribe, list and merge, then follow events
  // until the stream fails (throws) or the watch is aborted (returns).
  async #runSession(signal: AbortSignal, again: boolean): Promise<void> {
    const session = new AbortController();
    const onAbort = () => session.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    this.#session = session;
    this.#callOptions = { signal: session.signal };
    const fail = (err: unknown) => {
      if (!session.signal.aborted) session.abort(err);
    };
    const guard = this.#guard(session);
    let pump: Promise<void> | undefined;
    let reconcile: Promise<void> | undefined;
    try {
      if (isPreflighter(this.engine)) {
        await guard("pre-flight", this.engine.preflight(this.#callOptions));
      }
      const events = await guard(
        "subscribing to events",
        this.engine.lifecycleEvents(this.#callOptions),
      );
      pump = this.#pump(events, session.signal).then(() =>
        fail(
          new EventStreamEndedError(this.engine.api, {
            engine: this.engine.type,
            detail: "it ended without an error",
          }),
        ), fail);
      await this.#syncOnce(session.signal, guard);
      if (again) this.#stats.resyncs++;
      this.#state = "ready";
      this.#settleReady();
      reconcile = this.#reconcile(session.signal, guard).catch(fail);
      await pump;
      if (!signal.aborted) throw session.signal.reason;
    } finally {
      signal.removeEventListener("abort", onAbort);
      if (!session.signal.aborted) session.abort(signal.reason);
      // Inspect answers arriving from now on are dropped: the next
      // session's list covers their containers.
      this.#sync.reset();
      await pump;
      await reconcile;
      if (this.#inflight > 0) {
        await new Promise<void>((resolve) => (this.#idle = resolve));
      }
      this.#sync.reset();
      this.#session = undefined;
    }
  }

  // Follows the event stream; each step is raced against the session, so
  // an adaptor's stream that ignores the abort cannot hold the session.
  async #pump(
    events: AsyncIterable<ContainerEvent>,
    signal: AbortSignal,
  ): Promise<void> {
    const iterator = events[Symbol.asyncIterator]();
    try {
      while (true) {
        const step = await abortable(iterator.next(), signal);
        if (step.done || signal.aborted) return;
        this.#onEvent(step.value, signal);
      }
    } finally {
      // Not awaited: an adaptor that hangs here must not hold us.
      Promise.resolve(iterator.return?.()).catch(() => {});
    }
  }

  async #reconcile(signal: AbortSignal, guard: Guard): Promise<void> {
    const interval = this.#options.reconcileIntervalMs ??
      DEFAULT_RECONCILE_INTERVAL_MS;
    if (!(interval > 0)) return;
    while (!signal.aborted) {
      try {
        await delay(interval, signal);
      } catch {
        return;
      }
      const engine = this.engine;
      if (isSummaryLister(engine)) {
        await this.#reconcileCheaply(engine, signal, guard);
      } else {
        this.#stats.repairs += await this.#syncOnce(signal, guard);
      }
    }
  }

  // Lists and merges; events arriving meanwhile are noted in a window.
  // Returns how many containers changed.
  async #syncOnce(signal: AbortSignal, guard: Guard): Promise<number> {
    const window = this.#sync.openWindow();
    try {
      const listed = await guard("listing", this.engine.list({ signal }));
      signal.throwIfAborted();
      const changed = this.#sync.merge(listed, window);
      this.#stats.syncs++;
      this.#stats.lastSyncTime = Date.now();
      return changed;
    } finally {
      this.#sync.closeWindow(window);
    }
  }

  // A reconciliation pass over a cheap listing: containers it lacks exit,
  // and only the containers that are new or differ get inspected. Restarts
  // are seen by PID where the listing has PIDs; otherwise the event stream
  // reports them (die + start), and after a lost stream the resync's full
  // list inspects everything.
  async #reconcileCheaply(
    engine: SummaryLister,
    signal: AbortSignal,
    guard: Guard,
  ): Promise<void> {
    const window = this.#sync.openWindow();
    try {
      const summaries = await guard(
        "listing",
        engine.listSummaries({ signal }),
      );
      signal.throwIfAborted();
      const { gone, suspects } = this.#sync.reconcile(summaries, window);
      this.#stats.repairs += gone;
      if (suspects.length > 0) {
        // Tokens now: events from here on take precedence over the answers.
        const work = suspects.map((id) => ({
          id,
          token: this.#sync.verifySeen(id),
        }));
        await mapPool(
          work,
          ({ id, token }, poolSignal) =>
            this.#verify(id, token, poolSignal, guard),
          { concurrency: VERIFY_CONCURRENCY, signal },
        );
      }
      this.#stats.syncs++;
      this.#stats.lastSyncTime = Date.now();
    } finally {
      this.#sync.closeWindow(window);
    }
  }

  // Inspects a container a reconciliation pass found new or different.
  async #verify(
    id: string,
    token: PendingStart,
    signal: AbortSignal,
    guard: Guard,
  ): Promise<void> {
    // An event since the pass settled it (or a newer start is inspected).
    if (!this.#sync.isPending(id, token)) return;
    this.#inflight++;
    try {
      const c = await guard("inspecting", this.engine.inspect(id, { signal }));
      if (this.#sync.startInspected(id, c, token, Date.now())) {
        this.#stats.repairs++;
      }
    } catch (err) {
      if (!signal.aborted && isProcesslessContainerError(err)) {
        if (this.#sync.verifiedGone(id, token, Date.now())) {
          this.#stats.repairs++;
        }
        return;
      }
      this.#sync.startFailed(id, token);
      throw err;
    } finally {
      this.#inspected();
    }
  }

  #onEvent(event: ContainerEvent, signal: AbortSignal): void {
    const id = event.id;
    switch (event.type) {
      case "started":
        return this.#inspectStart(id, event.timestamp, signal);
      case "exited":
        return this.#sync.exited(id, event.timestamp);
      case "paused":
      case "unpaused":
        return this.#sync.pausedChanged(
          id,
          event.type === "paused",
          event.timestamp,
        );
    }
  }

  #inspectStart(id: string, timestamp: number, signal: AbortSignal): void {
    const token = this.#sync.startSeen(id);
    this.#inflight++;
    abortable(this.engine.inspect(id, this.#callOptions), signal).then(
      (c) => {
        this.#inspected();
        this.#sync.startInspected(id, c, token, timestamp);
      },
      (err) => {
        this.#inspected();
        this.#sync.startFailed(id, token);
        if (signal.aborted || isProcesslessContainerError(err)) return;
        // The engine failed otherwise: resync from a fresh list.
        const session = this.#session;
        if (session && session.signal === signal) session.abort(err);
      },
    );
  }

  #inspected(): void {
    if (--this.#inflight === 0 && this.#idle) {
      const idle = this.#idle;
      this.#idle = undefined;
      idle();
    }
  }

  #emit(type: ContainerEventType, container: Container, timestamp: number) {
    if (this.#subscribers.size === 0 && this.#listeners.size === 0) return;
    const event: WatcherEvent = Object.freeze({
      type,
      id: container.id,
      project: container.project,
      timestamp,
      container,
    });
    for (const listener of this.#listeners) listener(event);
    for (const q of this.#subscribers) q.push(event);
  }

  static {
    addListener = (w, listener) => w.#listeners.add(listener);
    removeListener = (w, listener) => w.#listeners.delete(listener);
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
