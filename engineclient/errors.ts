/**
 * Errors of the engine-client contract.
 *
 * @module
 */

/**
 * Inspecting a container failed because it has no process: it was created
 * but not started, or it is already gone. Usually a transient race between
 * listing (or an event) and inspecting; the watcher skips such containers.
 *
 * @example
 * ```ts
 * import { ProcesslessContainerError } from "@whalewatcher/whalewatcher";
 * const err = new ProcesslessContainerError("web", { engine: "docker.com" });
 * console.log(err.message);
 * // docker.com container "web" has no process
 * ```
 */
export class ProcesslessContainerError extends Error {
  /** Name or ID of the container. */
  readonly container: string;
  /** Engine type the container belongs to, when known. */
  readonly engine: string;

  /** Makes the error for a container given by name or ID. */
  constructor(
    container: string,
    options: { engine?: string; cause?: unknown } = {},
  ) {
    const engine = options.engine ?? "";
    super(
      `${engine ? engine + " " : ""}container "${container}" has no process`,
      { cause: options.cause },
    );
    this.name = "ProcesslessContainerError";
    this.container = container;
    this.engine = engine;
  }
}

/**
 * Tells whether an error is a {@linkcode ProcesslessContainerError}.
 *
 * @example
 * ```ts
 * import {
 *   isProcesslessContainerError,
 *   ProcesslessContainerError,
 * } from "@whalewatcher/whalewatcher";
 * console.log(isProcesslessContainerError(new ProcesslessContainerError("x"))); // true
 * console.log(isProcesslessContainerError(new Error("x"))); // false
 * ```
 */
export function isProcesslessContainerError(
  error: unknown,
): error is ProcesslessContainerError {
  return error instanceof ProcesslessContainerError;
}
