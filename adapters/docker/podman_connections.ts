/**
 * Podman's system connections (`podman system connection list`), as podman
 * stores them: `podman-connections.json` (podman 5) and the older
 * `[engine.service_destinations]` of `containers.conf`, both in
 * `$XDG_CONFIG_HOME/containers` (default `~/.config/containers`). The
 * default connection is `CONTAINER_CONNECTION`, else the files' default
 * (`Connection.Default`, `engine.active_service`); `CONTAINER_HOST` names
 * an endpoint directly.
 *
 * @example
 * ```ts ignore
 * import { readPodmanConnections } from "@whalewatcher/whalewatcher/docker";
 * const { connections } = await readPodmanConnections();
 * for (const c of connections) console.log(c.default ? "*" : " ", c.name, c.uri);
 * ```
 *
 * @module
 */

import { envValue } from "../../engineclient/_env.ts";
import { readOptional } from "./_files.ts";

/**
 * A podman connection.
 *
 * @example
 * ```ts
 * import type { PodmanConnection } from "@whalewatcher/whalewatcher/docker";
 * const c: PodmanConnection = {
 *   name: "build-1",
 *   uri: "ssh://core@build-1:22/run/user/1000/podman/podman.sock",
 *   default: true,
 * };
 * ```
 */
export interface PodmanConnection {
  /** The connection's name. */
  name: string;
  /** Its URI: `unix://PATH` or `ssh://USER@HOST[:PORT]/SOCKET`. */
  uri: string;
  /** The SSH key file, when the connection names one. */
  identity?: string;
  /** Whether it is the default connection. */
  default: boolean;
}

/**
 * What {@linkcode readPodmanConnections} found.
 *
 * @example
 * ```ts
 * import type { PodmanConnections } from "@whalewatcher/whalewatcher/docker";
 * const none: PodmanConnections = { connections: [], files: [] };
 * ```
 */
export interface PodmanConnections {
  /** The connections by name (podman-connections.json wins over containers.conf). */
  connections: PodmanConnection[];
  /** The files read. */
  files: string[];
}

/**
 * Podman's user configuration folder: `$XDG_CONFIG_HOME/containers`, else
 * `$HOME/.config/containers`.
 *
 * @example
 * ```ts
 * import { podmanConfigDir } from "@whalewatcher/whalewatcher/docker";
 * console.log(podmanConfigDir((n) => ({ HOME: "/home/me" })[n])); // /home/me/.config/containers
 * ```
 */
export function podmanConfigDir(
  env: (name: string) => string | undefined = envValue,
): string | undefined {
  const xdg = env("XDG_CONFIG_HOME");
  if (xdg) return `${xdg}/containers`;
  const home = env("HOME");
  return home ? `${home}/.config/containers` : undefined;
}

function unquote(key: string): string {
  const k = key.trim();
  return /^".*"$|^'.*'$/.test(k) ? k.slice(1, -1) : k;
}

// "a.b.\"c d\"" → ["a", "b", "c d"]
function tablePath(header: string): string[] {
  const parts: string[] = [];
  const re = /\s*("([^"]*)"|'([^']*)'|[^.\s]+)\s*(\.|$)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(header)) && m[0] !== "") {
    parts.push(m[2] ?? m[3] ?? m[1]);
  }
  return parts;
}

/**
 * The service destinations and the active service of a `containers.conf`
 * text. A minimal TOML reading: table headers, and string or boolean
 * values on one line.
 */
export function parseServiceDestinations(text: string): {
  active?: string;
  destinations: Map<string, { uri?: string; identity?: string }>;
} {
  const destinations = new Map<string, { uri?: string; identity?: string }>();
  let active: string | undefined;
  let table: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const header = /^\[\s*([^\[\]]+?)\s*\]$/.exec(line);
    if (header) {
      table = tablePath(header[1]);
      continue;
    }
    const kv = /^("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=\s*(.*)$/.exec(line);
    if (!kv) continue;
    const key = unquote(kv[1]);
    const valueText = kv[2].replace(/\s+#.*$/, "").trim();
    const str = /^"((?:[^"\\]|\\.)*)"$|^'([^']*)'$/.exec(valueText);
    const value = str ? (str[2] ?? str[1].replace(/\\(.)/g, "$1")) : undefined;
    if (value === undefined) continue;
    if (
      table.length === 1 && table[0] === "engine" && key === "active_service"
    ) {
      active = value;
    } else if (
      table.length === 3 && table[0] === "engine" &&
      table[1] === "service_destinations"
    ) {
      const d = destinations.get(table[2]) ?? {};
      if (key === "uri") d.uri = value;
      if (key === "identity") d.identity = value;
      destinations.set(table[2], d);
    }
  }
  return { active, destinations };
}

interface ConnectionsJson {
  Connection?: {
    Default?: string;
    Connections?: Record<string, { URI?: string; Identity?: string }>;
  };
}

/**
 * Reads podman's connections. Rejects when a file exists but cannot be
 * read (Deno's permissions: grant `--allow-read` of the folder) or parsed.
 *
 * @example
 * ```ts ignore
 * import { readPodmanConnections } from "@whalewatcher/whalewatcher/docker";
 * const { connections } = await readPodmanConnections();
 * console.log(connections.find((c) => c.default)?.uri);
 * ```
 */
export async function readPodmanConnections(
  options: { env?: (name: string) => string | undefined } = {},
): Promise<PodmanConnections> {
  const env = options.env ?? envValue;
  const dir = podmanConfigDir(env);
  const files: string[] = [];
  const byName = new Map<string, Omit<PodmanConnection, "default">>();
  let fileDefault: string | undefined;
  if (dir) {
    const jsonPath = `${dir}/podman-connections.json`;
    const json = await readOptional(jsonPath);
    if (json !== undefined) {
      files.push(jsonPath);
      let parsed: ConnectionsJson;
      try {
        parsed = JSON.parse(json);
      } catch (err) {
        throw new Error(
          `cannot parse "${jsonPath}": ${(err as Error).message}`,
        );
      }
      fileDefault = parsed.Connection?.Default || undefined;
      for (
        const [name, c] of Object.entries(parsed.Connection?.Connections ?? {})
      ) {
        if (!c?.URI) continue;
        byName.set(name, {
          name,
          uri: c.URI,
          ...(c.Identity ? { identity: c.Identity } : {}),
        });
      }
    }
    const confPath = `${dir}/containers.conf`;
    const conf = await readOptional(confPath);
    if (conf !== undefined) {
      files.push(confPath);
      const { active, destinations } = parseServiceDestinations(conf);
      fileDefault ??= active;
      for (const [name, d] of destinations) {
        if (!d.uri || byName.has(name)) continue;
        byName.set(name, {
          name,
          uri: d.uri,
          ...(d.identity ? { identity: d.identity } : {}),
        });
      }
    }
  }
  const chosen = env("CONTAINER_CONNECTION") ?? fileDefault;
  const connections = [...byName.values()].sort((a, b) =>
    a.name.localeCompare(b.name)
  ).map((c) => ({ ...c, default: c.name === chosen }));
  return { connections, files };
}
