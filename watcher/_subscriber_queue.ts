// One subscriber's bounded queue of events, as an async iterator (internal).
// Delivery is a plain array push or a direct resolve of a waiting reader:
// no promise chain per event on the watcher's side.

/** A bounded queue that a producer pushes into and one reader iterates. */
export class SubscriberQueue<T> implements AsyncIterableIterator<T> {
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
  #onEnd: ((q: SubscriberQueue<T>) => void) | undefined;
  #signal: AbortSignal | undefined;
  #onAbort = () => this.end();
  readonly #capacity: number;
  readonly #overflow: () => unknown;

  /**
   * `capacity` bounds the queue; `overflow` makes the error that ends the
   * subscription when it is exceeded; `onEnd` runs once when it ends.
   */
  constructor(
    capacity: number,
    overflow: () => unknown,
    options: {
      signal?: AbortSignal;
      onEnd?: (q: SubscriberQueue<T>) => void;
    } = {},
  ) {
    this.#capacity = capacity;
    this.#overflow = overflow;
    this.#onEnd = options.onEnd;
    this.#signal = options.signal;
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Whether the subscription has ended (no more pushes accepted). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Queued events not yet read. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Delivers one event; on overflow ends the subscription with the error. */
  push(item: T): void {
    if (this.#ended) return;
    if (this.#waiters.length > 0) {
      this.#waiters.shift()!.resolve({ value: item, done: false });
      return;
    }
    if (this.#items.length - this.#head >= this.#capacity) {
      // Drop what is queued: the reader must start over from the portfolio.
      this.#items = [];
      this.#head = 0;
      this.end(this.#overflow(), { discard: true });
      return;
    }
    this.#items.push(item);
  }

  /**
   * Ends the subscription: the reader gets the queued events, then the end
   * (or `error`, thrown). With `discard`, queued events are dropped.
   */
  end(error?: unknown, options: { discard?: boolean } = {}): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    if (options.discard) {
      this.#items = [];
      this.#head = 0;
    }
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#signal = undefined;
    const onEnd = this.#onEnd;
    this.#onEnd = undefined;
    onEnd?.(this);
    const waiters = this.#waiters;
    if (waiters.length > 0) {
      this.#waiters = [];
      const err = this.#error;
      this.#error = undefined;
      for (const [i, w] of waiters.entries()) {
        // The error goes to the first reader; the rest see the end.
        if (i === 0 && err !== undefined) w.reject(err);
        else w.resolve({ value: undefined, done: true });
      }
    }
  }

  /** Next event; waits when none is queued. */
  next(): Promise<IteratorResult<T>> {
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head] as T;
      this.#items[this.#head++] = undefined;
      if (this.#head === this.#items.length) {
        this.#items.length = 0;
        this.#head = 0;
      } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
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

  /** Ends the subscription from the reader's side (`break` in `for await`). */
  return(): Promise<IteratorResult<T>> {
    this.end(undefined, { discard: true });
    this.#error = undefined;
    return Promise.resolve({ value: undefined, done: true });
  }

  /** The iterator itself. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
