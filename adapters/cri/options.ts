/**
 * The options of the cri adaptor's client: a light module (no npm
 * package), so that the root module can export their type.
 *
 * @module
 */

import type { EngineOptions, RucksackPacker } from "../../engineclient/mod.ts";

/**
 * Options of the CRI adaptor.
 *
 * @example
 * ```ts
 * import type { CriOptions } from "@whalewatcher/whalewatcher/cri";
 * const options: CriOptions = { relist: true, relistIntervalMs: 500 };
 * ```
 */
export interface CriOptions extends EngineOptions {
  /** What {@linkcode CriClient.id} answers; defaults to `Deno.hostname()`. */
  hostId?: string;
  /**
   * Detect changes by relisting instead of `GetContainerEvents`, even when
   * the runtime has events. Relisting is used anyway when the runtime
   * answers UNIMPLEMENTED (containerd 1.6, older cri-o).
   */
  relist?: boolean;
  /** Interval of the relisting fallback; default 1000 ms. */
  relistIntervalMs?: number;
  /** How many verbose status calls `list` makes at once; default 8. */
  concurrency?: number;
  /**
   * Prefix under which annotations become labels; default `"annotation."`;
   * `null` leaves annotations out.
   */
  annotationPrefix?: string | null;
  /**
   * Label (after the adaptor's additions, such as
   * `io.kubernetes.pod.namespace`) whose value becomes the container's
   * project; by default containers have no project (`""`).
   */
  projectLabel?: string;
  /**
   * Events that the runtime timestamps more than this before the
   * subscription are replays of containerd 1.7's backlog (it buffers events
   * while nobody listens) and are dropped: the list made after subscribing
   * already reflects them. Default 2000 ms; `Infinity` keeps them all.
   */
  staleEventGraceMs?: number;
  /** Packs each container's rucksack from its CRI inspection. */
  packer?: RucksackPacker;
  /** grpc-js channel options (keepalive and the like), such as
   * `{ "grpc.keepalive_time_ms": 30000 }`. */
  channelOptions?: Record<string, string | number>;
}
