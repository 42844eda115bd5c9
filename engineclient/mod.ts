/**
 * The engine-client contract: what adaptors implement and the watcher
 * consumes, plus the registry adaptors register in.
 *
 * @example
 * ```ts
 * import { engineRegistry, newContainer } from "@whalewatcher/whalewatcher";
 * console.log(newContainer({ id: "4b1d" }).name, engineRegistry.types());
 * ```
 *
 * @module
 */

export * from "./container.ts";
export * from "./event.ts";
export * from "./engine_client.ts";
export * from "./errors.ts";
export * from "./registry.ts";
