// The agent's one subscription to the fleet (internal): numbers every event,
// keeps the model and the replay ring, and fans the events out to the SSE
// clients. Everything between taking an event and handing it to the
// clients is synchronous, so a client that connects sees a snapshot (or a
// replay) and then exactly the events after it.
import {
  type Fleet,
  type FleetEngineEvent,
  type FleetEvent,
  SubscriberOverflowError,
} from "../mod.ts";
import {
  containerEventDoc,
  engineEventDoc,
  type SnapshotDoc,
} from "./_documents.ts";
import {
  engineKey,
  eventMatches,
  type Filters,
  isEngineEvent,
  Model,
} from "./_model.ts";
import { Ring } from "./_ring.ts";
import {
  type Bytes,
  concat,
  counted,
  type EndReason,
  SseClient,
  sseComment,
  sseFrame,
} from "./_sse.ts";

/** Settings of the hub. */
export interface HubOptions {
  /** Events kept for resuming clients. */
  bufferSize: number;
  /** Chunks an SSE client may have queued before it is dropped. */
  clientQueueSize: number;
  /** Interval of the `: ping` comment. */
  heartbeatMs: number;
  /** Concurrent SSE clients at most. */
  maxClients: number;
  /** What the agent serves at all (`--project`, `--label`). */
  filters: Filters;
  /** Bound of the hub's own fleet subscription; default 100,000. */
  fleetQueueSize?: number;
  /** Asks an engine's version (the model shows it once known). */
  version?: (key: string, signal: AbortSignal) => Promise<string | undefined>;
  /** Sees every event the hub publishes, after the clients. */
  onEvent?: (e: FleetEvent | FleetEngineEvent) => void;
}

/** Why a client got a snapshot instead of a replay. */
export type SnapshotReason = "new" | "expired" | "unknown";

/** Counters of the hub, for metrics. */
export interface HubStats {
  /** SSE clients dropped because they fell behind. */
  dropped: number;
  /** Times the hub's fleet subscription overflowed and was rebuilt. */
  resyncs: number;
  /** Container events by engine key and type. */
  events: Map<
    string,
    { type: string; api: string; counts: Record<string, number> }
  >;
}

interface Entry {
  readonly id: number;
  readonly frame: Bytes;
  readonly event: FleetEvent | FleetEngineEvent;
}

const RETRY = new TextEncoder().encode("retry: 1000\n\n");
const PING = counted(sseComment("ping"), 0);
const VERSION_TIMEOUT_MS = 2_000;
/** Events closer than this to the last send are batched. */
const BATCH_MS = 2;

/** The fleet's events, numbered, buffered and fanned out. */
export class Hub {
  /** The first ID of this run: IDs of earlier runs are below it. */
  readonly firstId: number;
  readonly stats: HubStats = { dropped: 0, resyncs: 0, events: new Map() };
  /** Why the hub stopped following the fleet, if it did. */
  failure: unknown = undefined;
  #fleet: Fleet;
  #options: HubOptions;
  #model: Model;
  #seq: number;
  #ring: Ring<Entry>;
  #clients = new Set<SseClient>();
  #lifetime = new AbortController();
  #sub: AsyncIterableIterator<FleetEvent | FleetEngineEvent>;
  #pumping: Promise<void>;
  #timer: ReturnType<typeof setInterval>;
  #pending = new Set<Promise<void>>();
  // Events numbered in this turn of the event loop, sent in one chunk per
  // group of clients at the end of the turn (one write per client per turn,
  // not per event).
  #batch: Entry[] = [];
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #lastFlush = 0;

  constructor(fleet: Fleet, options: HubOptions) {
    this.#fleet = fleet;
    this.#options = options;
    // Microseconds since the epoch: IDs keep increasing across restarts of
    // the agent (unless a run averaged above a million events per second),
    // so an ID of an earlier run is never taken for one of this run.
    this.firstId = Date.now() * 1000;
    this.#seq = this.firstId;
    this.#ring = new Ring(options.bufferSize);
    // Subscribe and read in one synchronous step: nothing in between.
    this.#sub = this.#subscribe();
    this.#model = Model.fromFleet(fleet, options.filters);
    for (const key of this.#model.engines.keys()) this.#fetchVersion(key);
    this.#pumping = this.#pump().catch((err) => {
      // Not expected: the fleet's streams end only by overflow or close.
      this.failure = err;
      for (const client of [...this.#clients]) client.end("closed");
    });
    this.#timer = setInterval(() => {
      this.#flush();
      for (const client of this.#clients) client.send(PING);
    }, options.heartbeatMs);
  }

  /** The ID of the last event numbered. */
  get lastId(): number {
    return this.#seq;
  }

  /** The model as the numbered events built it. */
  get model(): Model {
    return this.#model;
  }

  /** Most SSE clients at once. */
  get maxClients(): number {
    return this.#options.maxClients;
  }

  /** Number of connected SSE clients. */
  get clients(): number {
    return this.#clients.size;
  }

  #subscribe(): AsyncIterableIterator<FleetEvent | FleetEngineEvent> {
    return this.#fleet.events({
      engines: true,
      signal: this.#lifetime.signal,
      queueSize: this.#options.fleetQueueSize ?? 100_000,
    });
  }

  async #pump(): Promise<void> {
    while (!this.#lifetime.signal.aborted) {
      try {
        for await (const e of this.#sub) this.#publish(e);
        return; // the fleet closed, or the hub did
      } catch (err) {
        if (!(err instanceof SubscriberOverflowError)) throw err;
        // Fell behind the fleet: subscribe again and read the fleet in one
        // step, then publish the difference as events.
        this.stats.resyncs++;
        this.#sub = this.#subscribe();
        const target = Model.fromFleet(this.#fleet, this.#options.filters);
        for (const e of this.#model.diff(target, Date.now())) this.#publish(e);
      }
    }
  }

  #publish(e: FleetEvent | FleetEngineEvent): void {
    if (!eventMatches(e, this.#options.filters)) return;
    const key = engineKey(e.engine);
    const version = this.#model.engines.get(key)?.version;
    this.#model.apply(e);
    const id = ++this.#seq;
    const data = isEngineEvent(e)
      ? engineEventDoc(e, version)
      : containerEventDoc(e, version);
    const entry: Entry = { id, frame: sseFrame(id, e.type, data), event: e };
    this.#ring.push(entry);
    if (!isEngineEvent(e)) this.#count(key, e);
    else if (e.type === "engine-added") this.#fetchVersion(key);
    if (this.#clients.size > 0 && this.#batch.push(entry) === 1) {
      // A lone event goes out at once (a timer costs milliseconds); events
      // closer than that to the last send wait for the next turn together.
      if (performance.now() - this.#lastFlush >= BATCH_MS) {
        queueMicrotask(() => this.#flush());
      } else this.#flushTimer ??= setTimeout(() => this.#flush(), 0);
    }
    this.#options.onEvent?.(e);
  }

  // Sends the turn's events: one chunk per group of clients with the same
  // filters, shared by the group.
  #flush(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#lastFlush = performance.now();
    const batch = this.#batch;
    if (batch.length === 0) return;
    this.#batch = [];
    const chunks = new Map<string, Bytes | null>();
    for (const client of [...this.#clients]) {
      let chunk = chunks.get(client.group);
      if (chunk === undefined) {
        const frames = batch.filter((m) =>
          eventMatches(m.event, client.filters)
        ).map((m) => m.frame);
        chunk = frames.length ? counted(concat(frames), frames.length) : null;
        chunks.set(client.group, chunk);
      }
      if (chunk) client.send(chunk);
    }
  }

  #count(key: string, e: FleetEvent): void {
    let counter = this.stats.events.get(key);
    if (!counter) {
      counter = { type: e.engine.type, api: e.engine.api, counts: {} };
      this.stats.events.set(key, counter);
    }
    counter.counts[e.type] = (counter.counts[e.type] ?? 0) + 1;
  }

  #fetchVersion(key: string): void {
    const ask = this.#options.version;
    if (!ask) return;
    const signal = AbortSignal.any([
      this.#lifetime.signal,
      AbortSignal.timeout(VERSION_TIMEOUT_MS),
    ]);
    const p = ask(key, signal).then((version) => {
      const entry = this.#model.engines.get(key);
      if (version && entry) entry.version = version;
    }, () => {}).finally(() => this.#pending.delete(p));
    this.#pending.add(p);
  }

  /** The snapshot document for `filters`, as of {@linkcode lastId}. */
  snapshot(filters: Filters): SnapshotDoc {
    const live = new Map<string, { state: string; error?: string }>();
    for (const { engine, watcher, state } of this.#fleet.engines()) {
      const error = state === "resyncing" || state === "failed"
        ? (watcher.lastError as Error)?.message
        : undefined;
      live.set(engineKey(engine), {
        state,
        ...(error === undefined ? {} : { error }),
      });
    }
    return this.#model.snapshot(
      filters,
      String(this.#seq),
      (key) => live.get(key),
    );
  }

  /**
   * Connects an SSE client: a replay of what it missed since `lastEventId`
   * when the ring still holds it, else a snapshot; then every later event
   * passing `filters`. `undefined` when the client limit is reached.
   */
  connect(lastEventId: string | null, filters: Filters): SseClient | undefined {
    if (this.#clients.size >= this.#options.maxClients) return undefined;
    if (this.#lifetime.signal.aborted || this.failure !== undefined) {
      return undefined;
    }
    // The events numbered so far go to the clients there before this one;
    // its snapshot or replay covers them.
    this.#flush();
    const client = new SseClient({
      queueSize: this.#options.clientQueueSize,
      filters,
      onEnd: (c, reason) => this.#ended(c, reason),
    });
    const chunks = [RETRY];
    let reason: SnapshotReason = "new";
    if (lastEventId !== null) {
      const text = lastEventId.trim();
      const last = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
      const missed = last === this.#seq ? [] : this.#ring.after(last);
      if (missed) {
        for (const m of missed) {
          if (eventMatches(m.event, filters)) chunks.push(m.frame);
        }
        return this.#admit(client, chunks);
      }
      reason = last >= this.firstId && last < this.#seq ? "expired" : "unknown";
    }
    chunks.push(
      sseFrame(this.#seq, "snapshot", {
        resumed: false,
        reason,
        ...this.snapshot(filters),
      }),
    );
    return this.#admit(client, chunks);
  }

  // The first chunks go out as one, counted as one event: a long replay
  // or a big snapshot fits any queue.
  #admit(client: SseClient, chunks: Bytes[]): SseClient {
    client.send(counted(concat(chunks), 1));
    this.#clients.add(client);
    return client;
  }

  #ended(client: SseClient, reason: EndReason): void {
    this.#clients.delete(client);
    if (reason === "dropped") this.stats.dropped++;
  }

  /** Ends every client and the fleet subscription. */
  async close(): Promise<void> {
    if (this.#lifetime.signal.aborted) return await this.#pumping;
    clearInterval(this.#timer);
    clearTimeout(this.#flushTimer);
    this.#lifetime.abort();
    for (const client of [...this.#clients]) client.end("closed");
    this.#clients.clear();
    await this.#pumping;
    await Promise.all(this.#pending);
  }
}
