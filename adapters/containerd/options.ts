/**
 * The options of the containerd adaptor's client: a light module (no npm
 * package), so that the root module can export their type.
 *
 * @module
 */

import type { EngineOptions } from "../../engineclient/mod.ts";

/**
 * Options of `ContainerdClient`.
 *
 * @example
 * ```ts
 * import type { ContainerdOptions } from "@whalewatcher/whalewatcher/containerd";
 * const options: ContainerdOptions = { ignoredNamespaces: [] }; // see all
 * ```
 */
export interface ContainerdOptions extends EngineOptions {
  /** Namespaces left out of lists and events; default `["moby", "k8s.io"]`. */
  ignoredNamespaces?: readonly string[];
  /** How many namespaces `list` lists at once (two calls each); default 8. */
  concurrency?: number;
  /**
   * Confirm each event subscription by publishing one empty event on the
   * topic `/whalewatcher/subscribed/<uuid>` (namespace `default`) and
   * waiting for it to come back: the only way to know that containerd has
   * registered the subscription before listing. It changes no state, but
   * other subscribers (such as `ctr events`) see the event. `false` makes
   * the client strictly read-only: a unary call after the subscription
   * request stands in for the confirmation, leaving a window of
   * microseconds that reconciliation heals. Default `true`.
   */
  confirmSubscription?: boolean;
}
