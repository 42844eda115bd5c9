// Reading the configuration files of docker contexts and podman connections
// (internal).

/** A file's text; undefined when it does not exist. Other failures throw. */
export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}
