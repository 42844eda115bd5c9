// A bounded ring of the last numbered events (internal), for clients that
// reconnect with Last-Event-ID. IDs are consecutive, so lookups are O(1).

/** Something numbered. */
export interface Numbered {
  readonly id: number;
}

/** The last `capacity` items pushed, with consecutive IDs. */
export class Ring<T extends Numbered> {
  #items: (T | undefined)[];
  #start = 0;
  #count = 0;

  constructor(capacity: number) {
    this.#items = new Array(Math.max(0, capacity));
  }

  /** How many items it holds. */
  get size(): number {
    return this.#count;
  }

  /** Adds an item (its ID one more than the last), dropping the oldest when full. */
  push(item: T): void {
    const cap = this.#items.length;
    if (cap === 0) return;
    if (this.#count < cap) {
      this.#items[(this.#start + this.#count++) % cap] = item;
    } else {
      this.#items[this.#start] = item;
      this.#start = (this.#start + 1) % cap;
    }
  }

  /**
   * The items after ID `id`, oldest first; `undefined` when some of them are
   * no longer held (or `id` is not one this ring has seen the successor of).
   */
  after(id: number): T[] | undefined {
    const cap = this.#items.length;
    if (this.#count === 0 || !Number.isSafeInteger(id)) return undefined;
    const oldest = this.#items[this.#start]!.id;
    const newest = oldest + this.#count - 1;
    if (id < oldest - 1 || id > newest) return undefined;
    const out: T[] = [];
    for (let i = id - oldest + 1; i < this.#count; i++) {
      out.push(this.#items[(this.#start + i) % cap]!);
    }
    return out;
  }
}
