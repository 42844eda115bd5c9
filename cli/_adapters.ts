// Loading third-party adaptor modules given with --adapter (internal).
import { envValue } from "../engineclient/_env.ts";
import { engineRegistry } from "../mod.ts";
import { UsageError } from "./_args.ts";

// Types that probes report but that are served by another adaptor.
const KNOWN_ALIASES = new Set(["podman.io"]);

/** A module given with `--adapter` that could not be loaded. */
export class AdapterLoadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AdapterLoadError";
  }
}

/**
 * The URL of an `--adapter` argument: URLs (`file:`, `https:`, `jsr:`,
 * `npm:`) as given, paths relative to where the user ran the command (a
 * `deno task` runs in the project folder and says the user's folder in
 * `INIT_CWD`).
 */
export function adapterUrl(spec: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(spec) && !/^[a-z]:[\\/]/i.test(spec)) {
    return spec;
  }
  const base = envValue("INIT_CWD") ?? Deno.cwd();
  return new URL(spec, `file://${base.endsWith("/") ? base : base + "/"}`)
    .href;
}

/**
 * Imports each module in turn; a module registers its adaptor in the
 * engine registry when imported. Rejects naming the module that failed and
 * the Deno permission it needs when that is why.
 */
export async function loadAdapters(specs: readonly string[]): Promise<void> {
  for (const spec of specs) {
    const url = adapterUrl(spec);
    try {
      await import(url);
    } catch (err) {
      const message = (err as Error)?.message ?? String(err);
      const hint = /Requires read access/.test(message)
        ? ` (Deno may not read it: run from a folder that holds it, or grant --allow-read=${
          url.startsWith("file://") ? new URL(url).pathname : spec
        })`
        : "";
      throw new AdapterLoadError(
        `cannot load adaptor module "${spec}": ${message}${hint}`,
        { cause: err },
      );
    }
  }
}

/** Throws {@linkcode UsageError} for an `--engine` type nobody registered. */
export function checkEngineTypes(types: readonly string[]): void {
  for (const type of types) {
    if (!engineRegistry.has(type) && !KNOWN_ALIASES.has(type)) {
      throw new UsageError(
        `unknown engine type "${type}" for --engine (known: ${
          [...engineRegistry.types(), ...KNOWN_ALIASES].join(", ")
        })`,
      );
    }
  }
}
