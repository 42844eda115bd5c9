// What the two commands (watch, serve) do alike around their work
// (internal): parse, load --adapter modules, check --engine types, answer
// --help; and stop on Ctrl-C (or a caller's signal).
import {
  AdapterLoadError,
  checkEngineTypes,
  loadAdapters,
} from "./_adapters.ts";
import { UsageError } from "./_args.ts";

/** Where a command writes: results, diagnostics. */
export interface Sinks {
  out: (line: string) => void;
  err: (line: string) => void;
}

/**
 * Parses with `parse` and prepares what the flags ask for; returns the
 * parsed flags, or the exit code when there is nothing more to do (0 after
 * --help, 2 for bad flags or an adaptor module that cannot be loaded).
 */
export async function prepare<
  T extends { help: boolean; adapters: string[]; engines: string[] },
>(parse: () => T, usage: string, sinks: Sinks): Promise<T | number> {
  try {
    const parsed = parse();
    if (parsed.help) {
      sinks.out(usage);
      return 0;
    }
    await loadAdapters(parsed.adapters);
    checkEngineTypes(parsed.engines);
    return parsed;
  } catch (e) {
    if (e instanceof UsageError || e instanceof AdapterLoadError) {
      sinks.err(`whalewatcher: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

/**
 * Runs `work` with a signal that aborts on `signal` or, without one, on
 * SIGINT and SIGTERM; removes its listeners afterwards.
 */
export async function untilStopped<T>(
  signal: AbortSignal | undefined,
  work: (stop: AbortSignal) => Promise<T>,
): Promise<T> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  if (signal) {
    if (signal.aborted) stop.abort();
    signal.addEventListener("abort", onSignal, { once: true });
  } else {
    for (const s of signals) Deno.addSignalListener(s, onSignal);
  }
  try {
    return await work(stop.signal);
  } finally {
    signal?.removeEventListener("abort", onSignal);
    if (!signal) {
      for (const s of signals) Deno.removeSignalListener(s, onSignal);
    }
  }
}

/** Resolves when `signal` aborts. */
export function stopped(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}
