// Reading the environment without --allow-env (internal).

/** An environment variable's value; undefined when unset, empty or not readable. */
export function envValue(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // no --allow-env for it: as if unset
  }
}
