/**
 * The registry of engine adaptors, keyed by engine type string.
 *
 * @module
 */

import type { CallOptions, EngineClient } from "./engine_client.ts";

/**
 * Options every adaptor's `create` understands; adaptors add their own.
 *
 * @example
 * ```ts
 * import type { EngineOptions } from "@whalewatcher/whalewatcher";
 * const options: EngineOptions = { pid: 1234, type: "podman.io" };
 * ```
 */
export interface EngineOptions {
  /** PID of the engine process, when the caller knows it (discovery does). */
  pid?: number;
  /** Engine type to report instead of the adaptor's own (e.g. `"podman.io"`). */
  type?: string;
  /** Adaptor-specific options. */
  [option: string]: unknown;
}

/**
 * What a successful probe learnt about the engine on an endpoint.
 *
 * @example
 * ```ts
 * import type { ProbeResult } from "@whalewatcher/whalewatcher";
 * const found: ProbeResult = { type: "podman.io", version: "4.3.1" };
 * ```
 */
export interface ProbeResult {
  /** Engine type to report; defaults to the adaptor's type. */
  type?: string;
  /** Engine version, when the probe learnt it. */
  version?: string;
}

/**
 * Options of an adaptor's `probe`: the call's, plus the client options the
 * candidate endpoint came with (TLS material, SSH keys), as `create` gets
 * them.
 *
 * @example
 * ```ts
 * import type { ProbeOptions } from "@whalewatcher/whalewatcher";
 * const options: ProbeOptions = { signal: AbortSignal.timeout(2000), engine: { tls: false } };
 * ```
 */
export interface ProbeOptions<O extends EngineOptions = EngineOptions>
  extends CallOptions {
  /** Client options of the endpoint, when it came with some. */
  engine?: O;
}

/**
 * An endpoint and the client options it needs, as an adaptor's
 * configuration knows it (a docker context: its host and TLS material; a
 * podman connection: its URI and SSH key).
 *
 * @example
 * ```ts
 * import type { EndpointSpec } from "@whalewatcher/whalewatcher";
 * const spec: EndpointSpec = {
 *   endpoint: "tcp://build-1:2376",
 *   name: 'docker context "build-1"',
 *   options: { tls: { certPath: "/home/me/.docker/certs/build-1" } },
 * };
 * ```
 */
export interface EndpointSpec<O extends EngineOptions = EngineOptions> {
  /** Socket path or URL. */
  endpoint: string;
  /** Options for the adaptor's `probe` and `create` at this endpoint. */
  options?: O;
  /** Where it comes from, for people: `docker context "build-1"`. */
  name?: string;
}

/**
 * Options of an adaptor's `configuredEndpoints`.
 *
 * @example
 * ```ts
 * import type { ConfiguredEndpointsOptions } from "@whalewatcher/whalewatcher";
 * const options: ConfiguredEndpointsOptions = {
 *   env: (name) => Deno.env.get(name),
 *   names: ["all"],
 *   warnings: [],
 * };
 * ```
 */
export interface ConfiguredEndpointsOptions {
  /** Environment lookup (`HOME`, `DOCKER_CONFIG`, …). */
  env: (name: string) => string | undefined;
  /**
   * The configurations asked for by name (docker contexts, podman
   * connections); `"all"` asks for every one. Absent: only the current or
   * default one.
   */
  names?: readonly string[];
  /** Collects what could not be read, for people. */
  warnings: string[];
}

/**
 * An engine adaptor as registered: how to make clients of one engine type,
 * and optionally how to recognize that engine on an endpoint and where it
 * usually listens.
 *
 * @example
 * ```ts
 * import {
 *   type EngineAdapter,
 *   type EngineClient,
 * } from "@whalewatcher/whalewatcher";
 *
 * declare function connectMyEngine(endpoint?: string): EngineClient;
 *
 * const adapter: EngineAdapter = {
 *   type: "example.org",
 *   create: (endpoint) => connectMyEngine(endpoint),
 *   socketPaths: ["/run/myengine.sock"],
 * };
 * ```
 */
export interface EngineAdapter<O extends EngineOptions = EngineOptions> {
  /** Engine type string, such as `"docker.com"`. */
  readonly type: string;
  /**
   * Makes a client for the endpoint; without one, the adaptor's default
   * (its environment variable, then its usual socket).
   */
  create(
    endpoint?: string,
    options?: O,
  ): EngineClient | Promise<EngineClient>;
  /**
   * Tells whether this adaptor's engine answers on `endpoint`: a result when
   * it does, `null` when something else answers; rejects when the endpoint
   * cannot be reached (permission denied, no such socket, timeout).
   */
  probe?(
    endpoint: string,
    options?: ProbeOptions<O>,
  ): Promise<ProbeResult | null>;
  /** Well-known socket paths of this engine, for discovery. */
  readonly socketPaths?: readonly string[];
  /** Executable names of this engine's processes, for discovery. */
  readonly processNames?: readonly string[];
  /**
   * Environment variables that name this engine's endpoint (such as
   * `DOCKER_HOST`), for discovery; the adaptor's `create` honours them too.
   */
  readonly envVars?: readonly string[];
  /**
   * Endpoints that the engine's own client configuration names, with the
   * options they need, for discovery: the current docker context, podman's
   * default connection, or those asked for by name.
   */
  configuredEndpoints?(
    options: ConfiguredEndpointsOptions,
  ): Promise<readonly EndpointSpec<O>[]>;
}

/**
 * Raised for a registry lookup of an engine type nobody registered; the
 * message names the registered types.
 *
 * @example
 * ```ts
 * import { EngineRegistry } from "@whalewatcher/whalewatcher";
 * try {
 *   new EngineRegistry().get("nope");
 * } catch (err) {
 *   console.log((err as Error).name); // UnknownEngineTypeError
 * }
 * ```
 */
export class UnknownEngineTypeError extends Error {
  /** The engine type asked for. */
  readonly type: string;
  /** The engine types registered at the time. */
  readonly known: readonly string[];

  /** Makes the error for `type`, given the registered types. */
  constructor(type: string, known: readonly string[]) {
    super(
      `unknown engine type "${type}": registered types are ${
        known.length ? known.map((t) => `"${t}"`).join(", ") : "none"
      }`,
    );
    this.name = "UnknownEngineTypeError";
    this.type = type;
    this.known = known;
  }
}

/**
 * Raised when an adaptor registers under an engine type that is already
 * taken; the message names the registered types.
 *
 * @example
 * ```ts
 * import { DuplicateEngineTypeError, EngineRegistry } from "@whalewatcher/whalewatcher";
 * const registry = new EngineRegistry();
 * const adapter = { type: "example.org", create: () => { throw new Error("x"); } };
 * registry.register(adapter);
 * try {
 *   registry.register(adapter);
 * } catch (err) {
 *   console.log(err instanceof DuplicateEngineTypeError); // true
 * }
 * ```
 */
export class DuplicateEngineTypeError extends Error {
  /** The engine type asked for. */
  readonly type: string;
  /** The engine types registered at the time. */
  readonly known: readonly string[];

  /** Makes the error for `type`, given the registered types. */
  constructor(type: string, known: readonly string[]) {
    super(
      `cannot register engine adaptor "${type}": the type is already registered (registered types are ${
        known.map((t) => `"${t}"`).join(", ")
      })`,
    );
    this.name = "DuplicateEngineTypeError";
    this.type = type;
    this.known = known;
  }
}

/**
 * Engine adaptors by engine type string. The root module registers the
 * built-in adaptors in {@linkcode engineRegistry} (their code, and the npm
 * packages they use, load when an engine of that type is first probed or
 * created); third parties register theirs the same way.
 *
 * @example
 * ```ts
 * import { EngineRegistry, type EngineClient } from "@whalewatcher/whalewatcher";
 *
 * declare function connectMyEngine(endpoint?: string): EngineClient;
 *
 * const registry = new EngineRegistry();
 * registry.register({ type: "example.org", create: connectMyEngine });
 * console.log(registry.types()); // ["example.org"]
 * ```
 */
export class EngineRegistry {
  #adapters = new Map<string, EngineAdapter>();

  /**
   * Registers an adaptor under its type. Throws a `TypeError` when the type
   * is empty, and {@linkcode DuplicateEngineTypeError} when it is taken.
   */
  register(adapter: EngineAdapter): void {
    const type = adapter?.type;
    if (typeof type !== "string" || type === "") {
      throw new TypeError("cannot register engine adaptor: its type is empty");
    }
    if (typeof adapter.create !== "function") {
      throw new TypeError(
        `cannot register engine adaptor "${type}": it has no create function`,
      );
    }
    if (this.#adapters.has(type)) {
      throw new DuplicateEngineTypeError(type, this.types());
    }
    this.#adapters.set(type, adapter);
  }

  /** Removes the adaptor of a type; returns whether there was one. */
  unregister(type: string): boolean {
    return this.#adapters.delete(type);
  }

  /** Whether an adaptor is registered under `type`. */
  has(type: string): boolean {
    return this.#adapters.has(type);
  }

  /** The adaptor of `type`; throws {@linkcode UnknownEngineTypeError} when none. */
  get(type: string): EngineAdapter {
    const adapter = this.#adapters.get(type);
    if (!adapter) throw new UnknownEngineTypeError(type, this.types());
    return adapter;
  }

  /** The registered engine types, in registration order. */
  types(): string[] {
    return [...this.#adapters.keys()];
  }

  /** The registered adaptors, in registration order. */
  adapters(): EngineAdapter[] {
    return [...this.#adapters.values()];
  }

  /** Makes a client of the engine `type` for `endpoint`. */
  async create(
    type: string,
    endpoint?: string,
    options?: EngineOptions,
  ): Promise<EngineClient> {
    return await this.get(type).create(endpoint, options);
  }
}

/**
 * The registry that built-in adaptors register in and that discovery,
 * fleets and `createWatcher` use by default.
 *
 * @example
 * ```ts
 * import { engineRegistry } from "@whalewatcher/whalewatcher";
 * console.log(engineRegistry.types());
 * ```
 */
export const engineRegistry: EngineRegistry = new EngineRegistry();
