/**
 * Docker contexts as the docker CLI stores and resolves them: the current
 * context is `DOCKER_CONTEXT`, else `currentContext` of `config.json` in
 * `DOCKER_CONFIG` (default `~/.docker`), else `"default"` — and always
 * `"default"` when `DOCKER_HOST` is set. A context's endpoint is in
 * `contexts/meta/<sha256 of its name>/meta.json`, its TLS material in
 * `contexts/tls/<sha256 of its name>/docker/{ca,cert,key}.pem`. The
 * `"default"` context is not stored: it is `DOCKER_HOST`, else the default
 * socket.
 *
 * @example
 * ```ts ignore
 * import { readDockerContexts } from "@whalewatcher/whalewatcher/docker";
 * const { current, contexts } = await readDockerContexts();
 * for (const c of contexts) console.log(c.name === current ? "*" : " ", c.name, c.host);
 * ```
 *
 * @module
 */

import { envValue } from "../../engineclient/_env.ts";
import type { DockerTlsOptions } from "./endpoint.ts";
import { DEFAULT_DOCKER_ENDPOINT, DOCKER_ENDPOINT_ENV } from "./endpoint.ts";
import { readOptional } from "./_files.ts";

/**
 * The name of the context that is not stored: `DOCKER_HOST`, else the
 * default socket.
 *
 * @example
 * ```ts
 * import { DEFAULT_DOCKER_CONTEXT } from "@whalewatcher/whalewatcher/docker";
 * console.log(DEFAULT_DOCKER_CONTEXT); // "default"
 * ```
 */
export const DEFAULT_DOCKER_CONTEXT = "default";

/**
 * A docker context: its Docker endpoint and TLS settings.
 *
 * @example
 * ```ts
 * import type { DockerContext } from "@whalewatcher/whalewatcher/docker";
 * const c: DockerContext = { name: "build-1", host: "ssh://me@build-1", skipTlsVerify: false };
 * ```
 */
export interface DockerContext {
  /** The context's name. */
  name: string;
  /** Its Docker endpoint (`unix://`, `tcp://`, `ssh://`). */
  host: string;
  /** Its description, when it has one. */
  description?: string;
  /** Whether TLS connections skip verifying the server. */
  skipTlsVerify: boolean;
  /** TLS material stored with the context (PEM text). */
  tls?: { ca?: string; cert?: string; key?: string };
}

/**
 * What {@linkcode readDockerContexts} found.
 *
 * @example
 * ```ts
 * import type { DockerContexts } from "@whalewatcher/whalewatcher/docker";
 * const none: DockerContexts = { current: "default", contexts: [], configDir: "/root/.docker" };
 * ```
 */
export interface DockerContexts {
  /** The current context's name, as the docker CLI resolves it. */
  current: string;
  /** The contexts, `"default"` first, then the stored ones by name. */
  contexts: DockerContext[];
  /** The docker CLI's configuration folder read (`DOCKER_CONFIG` or `~/.docker`). */
  configDir?: string;
}

/**
 * Options of {@linkcode readDockerContexts}.
 *
 * @example
 * ```ts
 * import type { ReadDockerContextsOptions } from "@whalewatcher/whalewatcher/docker";
 * const options: ReadDockerContextsOptions = { env: (name) => ({ HOME: "/tmp/home" })[name] };
 * ```
 */
export interface ReadDockerContextsOptions {
  /** Environment lookup; default `Deno.env.get` (unset without permission). */
  env?: (name: string) => string | undefined;
  /** Only these contexts (and no listing of the store); default all. */
  names?: readonly string[];
}

/**
 * The docker CLI's configuration folder: `DOCKER_CONFIG`, else
 * `$HOME/.docker`; undefined without either.
 *
 * @example
 * ```ts
 * import { dockerConfigDir } from "@whalewatcher/whalewatcher/docker";
 * console.log(dockerConfigDir((n) => ({ HOME: "/home/me" })[n])); // /home/me/.docker
 * ```
 */
export function dockerConfigDir(
  env: (name: string) => string | undefined = envValue,
): string | undefined {
  const dir = env("DOCKER_CONFIG");
  if (dir) return dir;
  const home = env("HOME");
  return home ? `${home}/.docker` : undefined;
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(text),
  );
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

interface Meta {
  Name?: string;
  Metadata?: { Description?: string };
  Endpoints?: { docker?: { Host?: string; SkipTLSVerify?: boolean } };
}

function defaultContext(
  env: (name: string) => string | undefined,
): DockerContext {
  const host = env(DOCKER_ENDPOINT_ENV) ??
    `unix://${DEFAULT_DOCKER_ENDPOINT}`;
  return { name: DEFAULT_DOCKER_CONTEXT, host, skipTlsVerify: false };
}

async function storedContext(
  dir: string,
  name: string,
): Promise<DockerContext | undefined> {
  const id = await sha256Hex(name);
  const text = await readOptional(`${dir}/contexts/meta/${id}/meta.json`);
  if (text === undefined) return undefined;
  return await contextFromMeta(dir, id, text);
}

async function contextFromMeta(
  dir: string,
  id: string,
  text: string,
): Promise<DockerContext | undefined> {
  let meta: Meta;
  try {
    meta = JSON.parse(text);
  } catch (err) {
    throw new Error(
      `cannot parse docker context "${dir}/contexts/meta/${id}/meta.json": ${
        (err as Error).message
      }`,
    );
  }
  const docker = meta.Endpoints?.docker;
  if (!meta.Name || !docker?.Host) return undefined;
  const tlsDir = `${dir}/contexts/tls/${id}/docker`;
  const tls: DockerContext["tls"] = {};
  for (const f of ["ca", "cert", "key"] as const) {
    const pem = await readOptional(`${tlsDir}/${f}.pem`);
    if (pem !== undefined) tls[f] = pem;
  }
  return {
    name: meta.Name,
    host: docker.Host,
    ...(meta.Metadata?.Description
      ? { description: meta.Metadata.Description }
      : {}),
    skipTlsVerify: docker.SkipTLSVerify === true,
    ...(Object.keys(tls).length ? { tls } : {}),
  };
}

/**
 * The current context's name as the docker CLI resolves it: `"default"`
 * when `DOCKER_HOST` is set, else `DOCKER_CONTEXT`, else `currentContext`
 * of `config.json`, else `"default"`.
 *
 * @example
 * ```ts ignore
 * import { currentDockerContext } from "@whalewatcher/whalewatcher/docker";
 * console.log(await currentDockerContext());
 * ```
 */
export async function currentDockerContext(
  env: (name: string) => string | undefined = envValue,
): Promise<string> {
  if (env(DOCKER_ENDPOINT_ENV)) return DEFAULT_DOCKER_CONTEXT;
  const named = env("DOCKER_CONTEXT");
  if (named) return named;
  const dir = dockerConfigDir(env);
  if (!dir) return DEFAULT_DOCKER_CONTEXT;
  const text = await readOptional(`${dir}/config.json`);
  if (text === undefined) return DEFAULT_DOCKER_CONTEXT;
  try {
    const current = (JSON.parse(text) as { currentContext?: unknown })
      .currentContext;
    return typeof current === "string" && current
      ? current
      : DEFAULT_DOCKER_CONTEXT;
  } catch (err) {
    throw new Error(
      `cannot parse "${dir}/config.json": ${(err as Error).message}`,
    );
  }
}

/**
 * Reads the docker contexts (all, or those named) and the current one's
 * name. Rejects when a file exists but cannot be read (Deno's permissions:
 * grant `--allow-read` of the configuration folder) or parsed.
 *
 * @example
 * ```ts ignore
 * import { readDockerContexts } from "@whalewatcher/whalewatcher/docker";
 * const { current, contexts } = await readDockerContexts({ names: ["build-1"] });
 * console.log(current, contexts[0]?.host);
 * ```
 */
export async function readDockerContexts(
  options: ReadDockerContextsOptions = {},
): Promise<DockerContexts> {
  const env = options.env ?? envValue;
  const dir = dockerConfigDir(env);
  const current = await currentDockerContext(env);
  const contexts: DockerContext[] = [];
  const wanted = options.names;
  if (!wanted || wanted.includes(DEFAULT_DOCKER_CONTEXT)) {
    contexts.push(defaultContext(env));
  }
  if (!dir) return { current, contexts };
  if (wanted) {
    for (const name of wanted) {
      if (name === DEFAULT_DOCKER_CONTEXT) continue;
      const c = await storedContext(dir, name);
      if (c) contexts.push(c);
    }
    return { current, contexts, configDir: dir };
  }
  const stored: DockerContext[] = [];
  try {
    for await (const entry of Deno.readDir(`${dir}/contexts/meta`)) {
      if (!entry.isDirectory) continue;
      const text = await readOptional(
        `${dir}/contexts/meta/${entry.name}/meta.json`,
      );
      if (text === undefined) continue;
      const c = await contextFromMeta(dir, entry.name, text);
      if (c) stored.push(c);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  stored.sort((a, b) => a.name.localeCompare(b.name));
  contexts.push(...stored);
  return { current, contexts, configDir: dir };
}

/**
 * The Docker client's TLS option for a context: its TLS material, or
 * `false` (plain) for a `tcp://` context without any, as the docker CLI.
 *
 * @example
 * ```ts
 * import { contextTls } from "@whalewatcher/whalewatcher/docker";
 * console.log(contextTls({ name: "x", host: "tcp://h:2375", skipTlsVerify: false })); // false
 * ```
 */
export function contextTls(
  context: DockerContext,
): DockerTlsOptions | false {
  if (!context.tls && !context.skipTlsVerify) return false;
  return {
    ...context.tls,
    ...(context.skipTlsVerify ? { verify: false } : {}),
  };
}
