// The import graph, read with `deno info --json`, against the layout's
// direction: engine API → adaptor → watcher → fleet → user. Adaptors import
// the contract only, the watcher knows adaptors only through the contract,
// nothing imports in a circle, and the root module loads no npm package.
import { assert, assertEquals } from "../_assert.ts";

const ROOT = new URL("../../", import.meta.url).href;

/** One import: the resolved specifier, and how it is imported. */
interface Edge {
  to: string;
  typeOnly: boolean;
  dynamic: boolean;
}

type Graph = Map<string, Edge[]>;

interface InfoDependency {
  code?: { specifier?: string };
  type?: { specifier?: string };
  isDynamic?: boolean;
}

async function importGraph(entries: string[]): Promise<Graph> {
  const graph: Graph = new Map();
  for (const entry of entries) await addModules(graph, entry);
  return graph;
}

async function addModules(graph: Graph, entry: string): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", ROOT + entry],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout));
  for (
    const m of info.modules as {
      specifier: string;
      dependencies?: InfoDependency[];
    }[]
  ) {
    const edges: Edge[] = [];
    for (const d of m.dependencies ?? []) {
      const to = d.code?.specifier ?? d.type?.specifier;
      if (!to) continue;
      edges.push({ to, typeOnly: !d.code, dynamic: d.isDynamic ?? false });
    }
    graph.set(m.specifier, edges);
  }
}

/** A repository path of a module, or the specifier (npm:, node:). */
function local(specifier: string): string | undefined {
  return specifier.startsWith(ROOT) ? specifier.slice(ROOT.length) : undefined;
}

// Where each folder may import from (repository paths by prefix); npm:
// and node: are external and allowed everywhere but in engineclient/.
const ALLOWED: [string, string[]][] = [
  ["engineclient/", ["engineclient/"]],
  ["protos/", ["protos/"]],
  ["adapters/_grpc/", ["adapters/_grpc/", "engineclient/"]],
  ["adapters/", ["engineclient/", "adapters/_grpc/", "protos/"]], // + own folder
  ["watcher/discovery/", ["watcher/discovery/", "engineclient/"]],
  ["watcher/", ["watcher/", "engineclient/"]],
];

/** The imports of `graph` that go against the layout's direction. */
export function violations(graph: Graph): string[] {
  const found: string[] = [];
  for (const [from, edges] of graph) {
    const src = local(from);
    if (!src) continue;
    const rule = ALLOWED.find(([prefix]) => src.startsWith(prefix));
    for (const { to } of edges) {
      const dst = local(to);
      if (!dst) {
        if (src.startsWith("engineclient/") && !to.startsWith("node:")) {
          found.push(`${src} → ${to}`);
        }
        continue;
      }
      if (dst.startsWith("tests/") && !src.startsWith("tests/")) {
        found.push(`${src} → ${dst}`);
      }
      if (!rule) continue;
      const own = src.startsWith("adapters/")
        ? src.split("/").slice(0, 2).join("/") + "/"
        : rule[0];
      if (dst.startsWith(own) || rule[1].some((p) => dst.startsWith(p))) {
        continue;
      }
      found.push(`${src} → ${dst}`);
    }
  }
  return found;
}

/** The cycles among the repository's modules (static, code imports). */
export function cycles(graph: Graph): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const e of graph.get(node) ?? []) {
      if (e.dynamic || e.typeOnly || !local(e.to)) continue;
      const s = state.get(e.to);
      if (s === "open") {
        found.push(stack.slice(stack.indexOf(e.to)).map((n) => local(n)!));
      } else if (s === undefined) visit(e.to);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}

/** What `entry` loads when imported: its static code imports, transitively. */
export function loaded(graph: Graph, entry: string): Set<string> {
  const seen = new Set<string>();
  const todo = [ROOT + entry];
  while (todo.length) {
    const node = todo.pop()!;
    if (seen.has(node)) continue;
    seen.add(node);
    for (const e of graph.get(node) ?? []) {
      if (!e.dynamic && !e.typeOnly) todo.push(e.to);
    }
  }
  return seen;
}

const ENTRIES = [
  "mod.ts",
  "docker.ts",
  "containerd.ts",
  "cri.ts",
  "cli/mod.ts",
  "serve/mod.ts",
];

Deno.test("layout: every import points down the layout's direction, none in a circle", async () => {
  const graph = await importGraph(ENTRIES);
  assertEquals(violations(graph), []);
  assertEquals(cycles(graph), []);
});

Deno.test("layout: importing the root module loads no npm package; ./docker loads no gRPC, no discovery, no fleet", async () => {
  const graph = await importGraph(ENTRIES);
  const root = [...loaded(graph, "mod.ts")];
  assertEquals(root.filter((s) => s.startsWith("npm:")), []);
  // The adaptors are there, lazily: reached through dynamic imports.
  assert(
    graph.get(ROOT + "adapters/docker/adapter.ts")!.some((e) =>
      e.dynamic && e.to === ROOT + "adapters/docker/client.ts"
    ),
  );
  const docker = [...loaded(graph, "docker.ts")];
  assert(docker.some((s) => s.startsWith("npm:dockerode")), "no dockerode");
  assertEquals(
    docker.filter((s) =>
      s.startsWith("npm:@grpc") || /watcher\/(fleet|discovery)/.test(s)
    ),
    [],
  );
});

Deno.test("layout: the checks find a wrong-way import and a circle", () => {
  const edge = (to: string): Edge => ({ to, typeOnly: false, dynamic: false });
  const graph: Graph = new Map([
    [ROOT + "adapters/docker/client.ts", [edge(ROOT + "watcher/mod.ts")]],
    [ROOT + "engineclient/mod.ts", [edge("npm:dockerode@4.0.9")]],
    [ROOT + "watcher/mod.ts", [edge(ROOT + "watcher/fleet.ts")]],
    [ROOT + "watcher/fleet.ts", [edge(ROOT + "watcher/mod.ts")]],
    [ROOT + "watcher/discovery/mod.ts", [edge(ROOT + "watcher/fleet.ts")]],
  ]);
  assertEquals(violations(graph), [
    "adapters/docker/client.ts → watcher/mod.ts",
    "engineclient/mod.ts → npm:dockerode@4.0.9",
    "watcher/discovery/mod.ts → watcher/fleet.ts",
  ]);
  assertEquals(cycles(graph), [["watcher/mod.ts", "watcher/fleet.ts"]]);
});
