// The watcher's synchronous merge state machine (internal): how lists and
// events change the portfolio, and which events that emits. No I/O and no
// timers here: the session loop (watcher.ts) feeds it and does the calls.
import {
  type Container,
  type ContainerEventType,
  type ContainerSummary,
  withPaused,
} from "../engineclient/mod.ts";
import { _portfolioWriter as writer, Portfolio } from "./portfolio.ts";

/** Receives what the state machine emits. */
export type Emit = (
  type: ContainerEventType,
  container: Container,
  timestamp: number,
) => void;

/**
 * A start event whose inspection is still running; a later exit cancels it
 * (by removing it from the pending map) and pause events are noted in it.
 */
export interface PendingStart {
  paused: boolean | undefined;
}

// What happened while a list ran; merged with the list result.
interface SyncWindow {
  exited: Set<string>;
  started: Map<string, Container>;
  paused: Map<string, boolean>;
}

/** The portfolio and the rules that keep it consistent with its events. */
export class PortfolioSync {
  readonly portfolio: Portfolio = new Portfolio();
  #emit: Emit;
  #pending = new Map<string, PendingStart>();
  #window: SyncWindow | undefined;

  constructor(emit: Emit) {
    this.#emit = emit;
  }

  /** Starts noting events for a list about to be made; returns the window. */
  openWindow(): object {
    const window: SyncWindow = {
      exited: new Set(),
      started: new Map(),
      paused: new Map(),
    };
    this.#window = window;
    return window;
  }

  /** Stops noting events for `window` (the list failed or is merged). */
  closeWindow(window: object): void {
    if (this.#window === window) this.#window = undefined;
  }

  /** Drops pending starts and the window: their session is over. */
  reset(): void {
    this.#pending.clear();
    this.#window = undefined;
  }

  /**
   * Merges a list made while `window` was open: exits seen meanwhile drop
   * their containers, starts seen meanwhile are kept, pause changes replay
   * on top; subscribers get the difference to the portfolio. Returns how
   * many containers changed.
   */
  merge(listed: readonly Container[], window: object): number {
    const w = window as SyncWindow;
    const next = new Map<string, Container>();
    for (const c of listed) next.set(c.id, c);
    for (const id of w.exited) next.delete(id);
    for (const [id, c] of w.started) next.set(id, c);
    for (const [id, paused] of w.paused) {
      const c = next.get(id);
      if (c) next.set(id, withPaused(c, paused));
    }
    const portfolio = this.portfolio;
    const now = Date.now();
    let changed = 0;
    if (portfolio.size > 0) {
      const gone: Container[] = [];
      for (const c of portfolio) if (!next.has(c.id)) gone.push(c);
      for (const c of gone) {
        writer.delete(portfolio, c.id);
        this.#emit("exited", c, now);
      }
      changed += gone.length;
    }
    for (const c of next.values()) if (this.#put(c, now)) changed++;
    return changed;
  }

  /**
   * Applies a cheap listing (summaries) made while `window` was open, on
   * top of a portfolio that events keep up to date. Containers the listing
   * lacks exit, unless a start was inspected meanwhile (the listing
   * predates it). Returns the IDs to inspect, each with its token (see
   * {@linkcode verifySeen}): IDs new to the portfolio, and those whose
   * paused state or PID differ from it — except IDs whose start is being
   * inspected and IDs that exited, started or (for the paused state)
   * paused or unpaused meanwhile: those events are newer than the listing.
   */
  reconcile(
    summaries: readonly ContainerSummary[],
    window: object,
  ): { gone: number; suspects: string[] } {
    const w = window as SyncWindow;
    const portfolio = this.portfolio;
    const listed = new Set<string>();
    const suspects: string[] = [];
    for (const s of summaries) {
      const id = s.id;
      listed.add(id);
      if (w.exited.has(id) || w.started.has(id) || this.#pending.has(id)) {
        continue;
      }
      const c = writer.get(portfolio, id);
      if (
        c === undefined ||
        (c.paused !== s.paused && !w.paused.has(id)) ||
        (s.pid !== undefined && s.pid > 0 && c.pid > 0 && s.pid !== c.pid)
      ) suspects.push(id);
    }
    const gone: Container[] = [];
    for (const c of portfolio) {
      if (!listed.has(c.id) && !w.started.has(c.id)) gone.push(c);
    }
    const now = Date.now();
    for (const c of gone) {
      writer.delete(portfolio, c.id);
      this.#emit("exited", c, now);
    }
    return { gone: gone.length, suspects };
  }

  /**
   * A container to verify (found different by {@linkcode reconcile}): like
   * a start event, its inspection is pending, and exits, newer starts and
   * pause changes meanwhile take precedence over its answer.
   */
  verifySeen(id: string): PendingStart {
    return this.startSeen(id);
  }

  /** Whether `token` is still the pending inspection of `id`. */
  isPending(id: string, token: PendingStart): boolean {
    return this.#pending.get(id) === token;
  }

  /**
   * The verification of `id` found no process: unless an event came first,
   * the container exits (it died without its exit event reaching us).
   * Returns whether that changed the portfolio.
   */
  verifiedGone(id: string, token: PendingStart, timestamp: number): boolean {
    if (this.#pending.get(id) !== token) return false;
    this.#pending.delete(id);
    const old = writer.delete(this.portfolio, id);
    if (old) this.#emit("exited", old, timestamp);
    return old !== undefined;
  }

  /** A start event: returns the token its inspection answers with. */
  startSeen(id: string): PendingStart {
    const token: PendingStart = { paused: undefined };
    this.#pending.set(id, token);
    return token;
  }

  /**
   * The inspection of a start (or verification) answered; applies it
   * unless cancelled. Returns whether subscribers were told anything.
   */
  startInspected(
    id: string,
    inspected: Container,
    token: PendingStart,
    timestamp: number,
  ): boolean {
    // An exit (or a newer start) since the start event cancelled this one.
    if (this.#pending.get(id) !== token) return false;
    this.#pending.delete(id);
    const c = token.paused === undefined
      ? inspected
      : withPaused(inspected, token.paused);
    const window = this.#window;
    if (window) {
      window.started.set(c.id, c);
      window.paused.delete(c.id);
    }
    return this.#put(c, timestamp);
  }

  /** The inspection of a start failed: the start is dropped. */
  startFailed(id: string, token: PendingStart): void {
    if (this.#pending.get(id) === token) this.#pending.delete(id);
  }

  /** An exit event. */
  exited(id: string, timestamp: number): void {
    this.#pending.delete(id);
    const window = this.#window;
    if (window) {
      window.exited.add(id);
      window.started.delete(id);
      window.paused.delete(id);
    }
    const old = writer.delete(this.portfolio, id);
    if (old) this.#emit("exited", old, timestamp);
  }

  /** A pause or unpause event. */
  pausedChanged(id: string, paused: boolean, timestamp: number): void {
    const token = this.#pending.get(id);
    if (token) token.paused = paused;
    this.#window?.paused.set(id, paused);
    const old = writer.get(this.portfolio, id);
    if (old && old.paused !== paused) {
      const c = withPaused(old, paused);
      writer.set(this.portfolio, c);
      this.#emit(paused ? "paused" : "unpaused", c, timestamp);
    }
  }

  // Puts a container that is alive into the portfolio and emits what
  // changed: started when new; exited + started when it is another
  // incarnation (other PID); paused/unpaused when only that changed.
  // Returns whether it emitted anything.
  #put(c: Container, timestamp: number): boolean {
    const portfolio = this.portfolio;
    const old = writer.get(portfolio, c.id);
    if (old === c) return false;
    writer.set(portfolio, c);
    if (old === undefined) {
      this.#emit("started", c, timestamp);
    } else if (old.pid !== c.pid && old.pid !== 0 && c.pid !== 0) {
      this.#emit("exited", old, timestamp);
      this.#emit("started", c, timestamp);
    } else if (old.paused !== c.paused) {
      this.#emit(c.paused ? "paused" : "unpaused", c, timestamp);
    } else return false;
    return true;
  }
}
