// The module's async building blocks, one copy each (internal): an
// abortable delay, racing a promise against a signal, a bounded worker pool
// and a push-to-async-iterator queue. Adaptors and the watcher share them.

/**
 * Waits `ms` milliseconds; rejects with the signal's reason as soon as it
 * aborts, clearing the timer so that no timer outlives the wait.
 */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Settles like `promise`, or rejects with the signal's reason when it aborts
 * first: a call that ignores its signal cannot hold its caller up.
 */
export function abortable<T>(
  promise: Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => {}); // its late failure is nobody's business now
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}

/**
 * Maps `items` with `fn`, at most `concurrency` calls at once, in order.
 * The first failure (or an abort of `signal`) stops the pool: no further
 * call starts, the calls running get an aborted signal, and the pool
 * rejects with that failure without waiting for them.
 */
export function mapPool<T, R>(
  items: readonly T[],
  fn: (item: T, signal: AbortSignal) => Promise<R>,
  options: { concurrency: number; signal?: AbortSignal },
): Promise<R[]> {
  const results = new Array<R>(items.length);
  if (items.length === 0) return Promise.resolve(results);
  const stop = new AbortController();
  const outer = options.signal;
  const onAbort = () => stop.abort(outer!.reason);
  if (outer?.aborted) return Promise.reject(outer.reason);
  outer?.addEventListener("abort", onAbort, { once: true });
  return new Promise<R[]>((resolve, reject) => {
    let next = 0;
    let running = 0;
    const fail = (err: unknown) => {
      if (stop.signal.aborted && err !== stop.signal.reason) return;
      if (!stop.signal.aborted) stop.abort(err);
      outer?.removeEventListener("abort", onAbort);
      reject(err);
    };
    stop.signal.addEventListener("abort", () => fail(stop.signal.reason), {
      once: true,
    });
    const launch = () => {
      while (
        running < options.concurrency && next < items.length &&
        !stop.signal.aborted
      ) {
        const i = next++;
        running++;
        let call: Promise<R>;
        try {
          call = fn(items[i], stop.signal);
        } catch (err) {
          call = Promise.reject(err);
        }
        call.then((value) => {
          running--;
          if (stop.signal.aborted) return;
          results[i] = value;
          if (next < items.length) launch();
          else if (running === 0) {
            outer?.removeEventListener("abort", onAbort);
            resolve(results);
          }
        }, (err) => {
          running--;
          fail(err);
        });
      }
    };
    launch();
  });
}

/** Options of an {@linkcode AsyncQueue}. */
export interface AsyncQueueOptions {
  /**
   * Bound of the queue: a push beyond it ends the queue with `overflow()`'s
   * error and drops what is queued (the reader must start over).
   */
  capacity?: number;
  /** Makes the error that ends an overflowing queue. */
  overflow?: () => unknown;
  /** Flow control: `onHigh` runs when more than this many items wait. */
  highWaterMark?: number;
  /** Asks the producer to pause. */
  onHigh?: () => void;
  /** Asks the producer to resume (at half the high-water mark). */
  onLow?: () => void;
  /** Ends the queue quietly when aborted. */
  signal?: AbortSignal;
  /** Runs once when the queue ends, for any reason. */
  onEnd?: () => void;
}

/**
 * A queue that a producer pushes into and one reader iterates: delivery is
 * an array push or a direct resolve of a waiting reader, no promise chain
 * per item. Ends with an error (thrown to the reader after the queued
 * items) or quietly.
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  #items: (T | undefined)[] = [];
  #head = 0;
  // Readers waiting in next(); more than one only when next() is called
  // again before the previous call settled.
  #waiters: {
    resolve: (r: IteratorResult<T>) => void;
    reject: (e: unknown) => void;
  }[] = [];
  #ended = false;
  #error: unknown = undefined;
  #paused = false;
  #options: AsyncQueueOptions;
  #onAbort = () => this.end();

  /** Makes an empty queue. */
  constructor(options: AsyncQueueOptions = {}) {
    this.#options = options;
    if (options.signal?.aborted) {
      // Born ended: nothing was handed out yet, so there is no one to tell.
      this.#ended = true;
      this.#options = {};
    } else {
      options.signal?.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /** Whether the queue has ended (no more pushes accepted). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Queued items not yet read. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Delivers one item; on overflow ends the queue with the error. */
  push(item: T): void {
    if (this.#ended) return;
    if (this.#waiters.length > 0) {
      this.#waiters.shift()!.resolve({ value: item, done: false });
      return;
    }
    const { capacity, highWaterMark } = this.#options;
    if (capacity !== undefined && this.length >= capacity) {
      this.end(this.#options.overflow?.(), { discard: true });
      return;
    }
    this.#items.push(item);
    if (
      highWaterMark !== undefined && !this.#paused &&
      this.length > highWaterMark
    ) {
      this.#paused = true;
      this.#options.onHigh?.();
    }
  }

  /**
   * Ends the queue: the reader gets the queued items, then the end (or
   * `error`, thrown). With `discard`, queued items are dropped.
   */
  end(error?: unknown, options: { discard?: boolean } = {}): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    if (options.discard) this.#clear();
    this.#options.signal?.removeEventListener("abort", this.#onAbort);
    const onEnd = this.#options.onEnd;
    this.#options = {};
    onEnd?.();
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    this.#waiters = [];
    const err = this.#error;
    this.#error = undefined;
    for (const [i, w] of waiters.entries()) {
      // The error goes to the first reader; the rest see the end.
      if (i === 0 && err !== undefined) w.reject(err);
      else w.resolve({ value: undefined, done: true });
    }
  }

  /** The next item; waits when none is queued. */
  next(): Promise<IteratorResult<T>> {
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head] as T;
      this.#items[this.#head++] = undefined;
      if (this.#head === this.#items.length) {
        this.#clear();
      } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      const { highWaterMark } = this.#options;
      if (
        this.#paused && highWaterMark !== undefined &&
        this.length <= highWaterMark / 2
      ) {
        this.#paused = false;
        this.#options.onLow?.();
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.#ended) {
      const err = this.#error;
      this.#error = undefined;
      return err !== undefined
        ? Promise.reject(err)
        : Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
    });
  }

  /** Ends the queue from the reader's side (`break` in `for await`). */
  return(): Promise<IteratorResult<T>> {
    this.end(undefined, { discard: true });
    this.#error = undefined;
    return Promise.resolve({ value: undefined, done: true });
  }

  /** The iterator itself. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  #clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
