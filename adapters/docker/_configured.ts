// The Docker adaptor's configured endpoints (internal): docker contexts
// and podman connections as discovery candidates, with their TLS material
// and SSH keys.
import type {
  ConfiguredEndpointsOptions,
  EndpointSpec,
} from "../../engineclient/mod.ts";
import type { DockerOptions } from "./client.ts";
import {
  contextTls,
  currentDockerContext,
  DEFAULT_DOCKER_CONTEXT,
  dockerConfigDir,
  type DockerContext,
  readDockerContexts,
} from "./contexts.ts";
import {
  podmanConfigDir,
  type PodmanConnection,
  readPodmanConnections,
} from "./podman_connections.ts";

/** The keyword that asks for every context and connection. */
export const ALL = "all";

function unreadable(what: string, dir: string | undefined, err: unknown) {
  const message = (err as Error)?.message ?? String(err);
  return err instanceof Deno.errors.NotCapable
    ? `${what} not read: Deno may not read "${dir}" (grant --allow-read=${dir})`
    : `${what} not read: ${message}`;
}

function contextSpec(c: DockerContext): EndpointSpec<DockerOptions> {
  return {
    endpoint: c.host,
    name: `docker context "${c.name}"`,
    // The default context is DOCKER_HOST with the environment's TLS.
    ...(c.name === DEFAULT_DOCKER_CONTEXT
      ? {}
      : { options: { tls: contextTls(c) } }),
  };
}

function connectionSpec(c: PodmanConnection): EndpointSpec<DockerOptions> {
  return {
    endpoint: c.uri,
    name: `podman connection "${c.name}"`,
    ...(c.identity ? { options: { ssh: { identityFile: c.identity } } } : {}),
  };
}

// The docker contexts wanted: the current one (unless the default) without
// names; the named ones, or every one for "all".
async function contextSpecs(
  options: ConfiguredEndpointsOptions,
  found: Set<string>,
): Promise<EndpointSpec<DockerOptions>[]> {
  const { env, names, warnings } = options;
  let wanted = names?.includes(ALL) ? undefined : names;
  let current: string | undefined;
  if (!names) {
    current = await currentDockerContext(env);
    if (current === DEFAULT_DOCKER_CONTEXT) return [];
    wanted = [current];
  }
  const { contexts } = await readDockerContexts({ env, names: wanted });
  if (current && !contexts.length) {
    warnings.push(
      `the current docker context "${current}" is not in ${
        dockerConfigDir(env)
      }/contexts`,
    );
  }
  for (const c of contexts) found.add(c.name);
  return contexts.map(contextSpec);
}

// podman's connections wanted: CONTAINER_HOST or the default connection
// without names; the named ones, or every one for "all".
async function connectionSpecs(
  options: ConfiguredEndpointsOptions,
  found: Set<string>,
): Promise<EndpointSpec<DockerOptions>[]> {
  const { env, names } = options;
  const { connections } = await readPodmanConnections({ env });
  if (!names) {
    const host = env("CONTAINER_HOST");
    if (host) return [{ endpoint: host, name: "CONTAINER_HOST" }];
    const chosen = connections.find((c) => c.default);
    return chosen ? [connectionSpec(chosen)] : [];
  }
  const all = names.includes(ALL);
  const chosen = connections.filter((c) => all || names.includes(c.name));
  for (const c of chosen) found.add(c.name);
  return chosen.map(connectionSpec);
}

/**
 * Without names: the current docker context (unless it is the default one,
 * which DOCKER_HOST and the well-known sockets cover) and podman's default
 * connection (or CONTAINER_HOST). With names: those contexts and
 * connections; "all" for every one.
 */
export async function configuredDockerEndpoints(
  options: ConfiguredEndpointsOptions,
): Promise<EndpointSpec<DockerOptions>[]> {
  const { env, names, warnings } = options;
  const specs: EndpointSpec<DockerOptions>[] = [];
  const found = new Set<string>();
  const dockerDir = dockerConfigDir(env);
  try {
    specs.push(...await contextSpecs(options, found));
  } catch (err) {
    warnings.push(unreadable("docker contexts", dockerDir, err));
  }
  const podmanDir = podmanConfigDir(env);
  try {
    specs.push(...await connectionSpecs(options, found));
  } catch (err) {
    warnings.push(unreadable("podman connections", podmanDir, err));
  }
  for (const name of names ?? []) {
    if (name === ALL || found.has(name)) continue;
    warnings.push(
      `no docker context or podman connection named "${name}" (looked in ${
        dockerDir ?? "(no HOME)"
      }/contexts and ${podmanDir ?? "(no HOME)"})`,
    );
  }
  return specs;
}
