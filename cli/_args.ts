// The one place the CLI parses flags: swapping node:util's parseArgs for
// @std/cli later is a change of this file only.
import { parseArgs } from "node:util";

/** The CLI's settings, parsed and checked. */
export interface CliArgs {
  help: boolean;
  json: boolean;
  once: boolean;
  sockets: string[];
  contexts: string[];
  engines: string[];
  adapters: string[];
  project?: string;
  labels: LabelFilter[];
  color: boolean;
}

/** A `--label KEY[=VALUE]` filter; without a value any value matches. */
export interface LabelFilter {
  key: string;
  value?: string;
}

/** A flag the CLI does not understand, or a flag value it cannot use. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export const USAGE =
  `whalewatcher: the alive containers of Docker, containerd and CRI engines, and their lifecycle events

usage: deno task watch [options]

options:
  --socket ENDPOINT    watch the engine at this socket path or URL (repeatable):
                       unix://PATH, tcp://HOST:PORT (TLS from DOCKER_CERT_PATH
                       and DOCKER_TLS_VERIFY), ssh://USER@HOST[:PORT]; without
                       it and --context, engines are discovered (DOCKER_HOST,
                       the current docker context, podman's default
                       connection, well-known paths, processes)
  --context NAME       watch the engine of this docker context or podman
                       connection, with its TLS material or SSH key
                       (repeatable); "all" for every one
  --engine TYPE        watch only engines of this type (repeatable), e.g.
                       docker.com, containerd.io, cri, podman.io
  --adapter MODULE     import this module first (repeatable): a third-party
                       adaptor that registers itself, found like a built-in
  --project NAME       only containers of this compose project ("" = none)
  --label KEY[=VALUE]  only containers with this label (and value); repeatable
  --json               one JSON object per line on stdout
  --once               print the engines' containers, then exit
  --no-color           no colors (also when NO_COLOR is set or not on a TTY)
  -h, --help           this help
`;

/**
 * Parses the command line; throws {@linkcode UsageError} for bad flags.
 * `isTty` and `noColor` tell whether colors are wanted by default.
 */
export function parseCliArgs(
  args: string[],
  env: { isTty: boolean; noColor: boolean },
): CliArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: "boolean", short: "h" },
        json: { type: "boolean" },
        once: { type: "boolean" },
        "no-color": { type: "boolean" },
        socket: { type: "string", multiple: true },
        context: { type: "string", multiple: true },
        engine: { type: "string", multiple: true },
        adapter: { type: "string", multiple: true },
        project: { type: "string" },
        label: { type: "string", multiple: true },
      },
    });
  } catch (err) {
    // node's messages start with a capital and mention internals; keep
    // the gist and point at --help.
    const message = (err as Error).message.replace(
      /^./,
      (c) => c.toLowerCase(),
    );
    throw new UsageError(`${message} (see --help)`);
  }
  const v = parsed.values;
  const sockets = (v.socket ?? []).map((s) => {
    if (s.trim() === "") throw new UsageError("--socket needs a path");
    return s;
  });
  const contexts = (v.context ?? []).map((c) => {
    if (c.trim() === "") {
      throw new UsageError(
        '--context needs a docker context or podman connection name (or "all")',
      );
    }
    return c;
  });
  const engines = (v.engine ?? []).map((e) => {
    if (e.trim() === "") throw new UsageError("--engine needs an engine type");
    return e;
  });
  const adapters = (v.adapter ?? []).map((a) => {
    if (a.trim() === "") throw new UsageError("--adapter needs a module");
    return a;
  });
  const labels = (v.label ?? []).map((l): LabelFilter => {
    const eq = l.indexOf("=");
    const key = eq < 0 ? l : l.slice(0, eq);
    if (key === "") {
      throw new UsageError(`--label "${l}" has no key (use KEY or KEY=VALUE)`);
    }
    return eq < 0 ? { key } : { key, value: l.slice(eq + 1) };
  });
  return {
    help: v.help ?? false,
    json: v.json ?? false,
    once: v.once ?? false,
    sockets,
    contexts,
    engines,
    adapters,
    project: v.project,
    labels,
    color: !v["no-color"] && env.isTty && !env.noColor,
  };
}
