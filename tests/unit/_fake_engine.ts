// A scripted fake engine for the watcher core's unit tests: the test
// decides the exact interleaving of list results, inspect answers, events
// and stream failures. Adaptors are never tested against it.

import {
  type CallOptions,
  type Container,
  type ContainerEvent,
  type ContainerEventType,
  type ContainerSummary,
  type EngineClient,
  newContainer,
  ProcesslessContainerError,
  PROJECT_UNKNOWN,
  type SummaryLister,
} from "../../engineclient/mod.ts";

/** A promise with its settle functions exposed. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

/** Makes a {@linkcode Deferred}. */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every pending microtask (and the watcher's reactions) run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

// An async FIFO the fake fills and tests take from.
class Mailbox<T> {
  #items: T[] = [];
  #waiters: ((item: T) => void)[] = [];
  put(item: T) {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(item);
    else this.#items.push(item);
  }
  take(): Promise<T> {
    if (this.#items.length) return Promise.resolve(this.#items.shift()!);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
  get size(): number {
    return this.#items.length;
  }
}

/** One pending `list()` call; the test settles it. */
export class ListCall {
  readonly #d: Deferred<Container[]>;
  readonly #engine: FakeEngine;
  /** The signal the watcher passed. */
  readonly signal?: AbortSignal;
  constructor(
    engine: FakeEngine,
    d: Deferred<Container[]>,
    signal?: AbortSignal,
  ) {
    this.#engine = engine;
    this.#d = d;
    this.signal = signal;
  }
  /** Answers with `containers`, or with the engine's truth when omitted. */
  resolve(containers?: Container[]): void {
    this.#d.resolve(containers ?? [...this.#engine.truth.values()]);
  }
  /** Fails the list. */
  reject(err: unknown): void {
    this.#d.reject(err);
  }
}

/** One pending `inspect()` call; the test settles it. */
export class InspectCall {
  readonly id: string;
  readonly #d: Deferred<Container>;
  readonly #engine: FakeEngine;
  constructor(engine: FakeEngine, id: string, d: Deferred<Container>) {
    this.#engine = engine;
    this.id = id;
    this.#d = d;
  }
  /** Answers with `container`, or from the engine's truth when omitted. */
  resolve(container?: Container): void {
    const c = container ?? this.#engine.truth.get(this.id);
    if (c) this.#d.resolve(c);
    else this.#d.reject(new ProcesslessContainerError(this.id));
  }
  /** Fails the inspect. */
  reject(err: unknown): void {
    this.#d.reject(err);
  }
}

/** One pending `listSummaries()` call; the test settles it. */
export class SummariesCall {
  readonly #d: Deferred<ContainerSummary[]>;
  readonly #engine: SummarizingFakeEngine;
  constructor(engine: SummarizingFakeEngine, d: Deferred<ContainerSummary[]>) {
    this.#engine = engine;
    this.#d = d;
  }
  /** Answers with `summaries`, or with the engine's truth when omitted. */
  resolve(summaries?: ContainerSummary[]): void {
    this.#d.resolve(summaries ?? this.#engine.summaries());
  }
  /** Fails the listing. */
  reject(err: unknown): void {
    this.#d.reject(err);
  }
}

/** One event subscription; the test pushes events and failures into it. */
export class FakeStream implements AsyncIterable<ContainerEvent> {
  #queue: ContainerEvent[] = [];
  #waiter: Deferred<IteratorResult<ContainerEvent>> | undefined;
  #error: unknown;
  #done = false;
  #signal?: AbortSignal;
  #onAbort = () => this.#finish();
  /** Whether the stream has ended (abort, failure or iteration broken off). */
  closed = false;

  constructor(signal?: AbortSignal) {
    this.#signal = signal;
    signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Delivers an event. */
  emit(
    type: ContainerEventType,
    id: string,
    project: string = PROJECT_UNKNOWN,
  ): void {
    this.push({ type, id, project, timestamp: Date.now() });
  }

  /** Delivers a raw event. */
  push(event: ContainerEvent): void {
    if (this.#done) return;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.resolve({ value: event, done: false });
    } else this.#queue.push(event);
  }

  /** Loses the stream: iteration throws `err` (after queued events). */
  fail(err: unknown = new Error("fake stream lost")): void {
    if (this.#done) return;
    this.#error = err;
    this.#finish();
  }

  /** Ends the stream without error (an unexpected end for the watcher). */
  end(): void {
    this.#finish();
  }

  #finish() {
    if (this.#done) return;
    this.#done = true;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    if (this.#waiter && this.#queue.length === 0) {
      const w = this.#waiter;
      this.#waiter = undefined;
      this.closed = true;
      if (this.#error !== undefined && !this.#signal?.aborted) {
        w.reject(this.#error);
      } else w.resolve({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<ContainerEvent> {
    return {
      next: () => {
        if (this.#queue.length) {
          return Promise.resolve({ value: this.#queue.shift()!, done: false });
        }
        if (this.#done) {
          this.closed = true;
          // Abort ends quietly, as the contract says.
          if (this.#error !== undefined && !this.#signal?.aborted) {
            const err = this.#error;
            this.#error = undefined;
            return Promise.reject(err);
          }
          return Promise.resolve({ value: undefined, done: true });
        }
        this.#waiter = deferred();
        return this.#waiter.promise;
      },
      return: () => {
        this.#queue = [];
        this.#finish();
        this.closed = true;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

/** Options of the fake engine. */
export interface FakeEngineOptions {
  /** Answer `list()` at once from the truth (default false: test answers). */
  autoList?: boolean;
  /** Answer `inspect()` at once from the truth (default true). */
  autoInspect?: boolean;
}

/**
 * The fake engine. `truth` is what it would answer; `nextList()`,
 * `nextInspect()` and `nextStream()` hand the test the watcher's calls.
 */
export class FakeEngine implements EngineClient {
  readonly type: string = "fake.test";
  readonly api: string = "fake:///engine.sock";
  readonly pid: number = 4242;
  readonly client: unknown = { fake: true };
  /** The engine's containers by ID. */
  readonly truth: Map<string, Container> = new Map();
  /** The current (last) subscription. */
  stream: FakeStream | undefined;
  autoList: boolean;
  autoInspect: boolean;
  /** Rejects the next subscription attempt(s) with these errors. */
  subscribeFailures: unknown[] = [];
  /** Counts of calls by method. */
  calls: Record<string, number> = {};
  closed = 0;

  #lists = new Mailbox<ListCall>();
  #inspects = new Mailbox<InspectCall>();
  #streams = new Mailbox<FakeStream>();

  constructor(options: FakeEngineOptions = {}) {
    this.autoList = options.autoList ?? false;
    this.autoInspect = options.autoInspect ?? true;
  }

  #count(name: string) {
    this.calls[name] = (this.calls[name] ?? 0) + 1;
  }

  /** Adds a container to the truth (no event). */
  add(init: Partial<Container> & { id: string }): Container {
    const c = newContainer({ pid: 1000 + this.truth.size, ...init });
    this.truth.set(c.id, c);
    return c;
  }

  /** Starts a container: adds it to the truth and emits `started`. */
  start(init: Partial<Container> & { id: string }): Container {
    const c = this.add(init);
    this.stream?.emit("started", c.id, c.project);
    return c;
  }

  /** Ends a container: removes it and emits `exited`. */
  exit(id: string, project: string = PROJECT_UNKNOWN): void {
    this.truth.delete(id);
    this.stream?.emit("exited", id, project);
  }

  /** Pauses or unpauses a container and emits the event. */
  pause(id: string, paused = true): void {
    const c = this.truth.get(id);
    if (c) this.truth.set(id, newContainer({ ...c, paused }));
    this.stream?.emit(paused ? "paused" : "unpaused", id, PROJECT_UNKNOWN);
  }

  /** The next `list()` call of the watcher. */
  nextList(): Promise<ListCall> {
    return this.#lists.take();
  }

  /** The next `inspect()` call (only when `autoInspect` is off). */
  nextInspect(): Promise<InspectCall> {
    return this.#inspects.take();
  }

  /** The next accepted subscription. */
  nextStream(): Promise<FakeStream> {
    return this.#streams.take();
  }

  list(options?: CallOptions): Promise<Container[]> {
    this.#count("list");
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
    if (this.autoList) return Promise.resolve([...this.truth.values()]);
    const d = deferred<Container[]>();
    abortable(d, options?.signal);
    this.#lists.put(new ListCall(this, d, options?.signal));
    return d.promise;
  }

  inspect(nameOrId: string, options?: CallOptions): Promise<Container> {
    this.#count("inspect");
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
    const d = deferred<Container>();
    const call = new InspectCall(this, nameOrId, d);
    if (this.autoInspect) call.resolve();
    else {
      abortable(d, options?.signal);
      this.#inspects.put(call);
    }
    return d.promise;
  }

  lifecycleEvents(
    options?: CallOptions,
  ): Promise<AsyncIterable<ContainerEvent>> {
    this.#count("lifecycleEvents");
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
    if (this.subscribeFailures.length) {
      return Promise.reject(this.subscribeFailures.shift());
    }
    const stream = new FakeStream(options?.signal);
    this.stream = stream;
    this.#streams.put(stream);
    return Promise.resolve(stream);
  }

  id(): Promise<string> {
    return Promise.resolve("fake-engine-id");
  }

  version(): Promise<string> {
    return Promise.resolve("fake 1.0");
  }

  close(): Promise<void> {
    this.closed++;
    this.stream?.end();
    return Promise.resolve();
  }
}

/** Options of the summarizing fake engine. */
export interface SummarizingFakeEngineOptions extends FakeEngineOptions {
  /** Answer `listSummaries()` at once from the truth (default false). */
  autoSummaries?: boolean;
  /** Whether summaries carry PIDs (as containerd's do; default false, as Docker's). */
  pids?: boolean;
}

/** The fake engine with the `SummaryLister` capability. */
export class SummarizingFakeEngine extends FakeEngine implements SummaryLister {
  autoSummaries: boolean;
  readonly pids: boolean;
  #summaries = new Mailbox<SummariesCall>();

  constructor(options: SummarizingFakeEngineOptions = {}) {
    super(options);
    this.autoSummaries = options.autoSummaries ?? false;
    this.pids = options.pids ?? false;
  }

  /** The truth as the engine's cheap listing would tell it right now. */
  summaries(): ContainerSummary[] {
    return [...this.truth.values()].map((c) =>
      this.pids
        ? { id: c.id, paused: c.paused, pid: c.pid }
        : { id: c.id, paused: c.paused }
    );
  }

  /** The next `listSummaries()` call (only when `autoSummaries` is off). */
  nextSummaries(): Promise<SummariesCall> {
    return this.#summaries.take();
  }

  listSummaries(options?: CallOptions): Promise<ContainerSummary[]> {
    this.calls.listSummaries = (this.calls.listSummaries ?? 0) + 1;
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
    if (this.autoSummaries) return Promise.resolve(this.summaries());
    const d = deferred<ContainerSummary[]>();
    abortable(d, options?.signal);
    this.#summaries.put(new SummariesCall(this, d));
    return d.promise;
  }
}

function abortable<T>(d: Deferred<T>, signal?: AbortSignal) {
  if (!signal) return;
  const onAbort = () => d.reject(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  d.promise.then(
    () => signal.removeEventListener("abort", onAbort),
    () => signal.removeEventListener("abort", onAbort),
  );
}
