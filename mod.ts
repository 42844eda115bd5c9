/**
 * whalewatcher keeps an always-synchronized picture of the alive containers
 * of Docker, containerd and CRI engines, and streams their lifecycle events.
 *
 * @example
 * ```ts
 * import { engineRegistry } from "@whalewatcher/whalewatcher";
 * console.log(engineRegistry.types());
 * ```
 *
 * @module
 */

export * from "./engineclient/mod.ts";
