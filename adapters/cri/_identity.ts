/**
 * Makes containers of CRI statuses (internal).
 *
 * @module
 */

import {
  type Container,
  newContainer,
  type RucksackPacker,
} from "../../engineclient/mod.ts";
import { verboseInfo, verbosePid } from "./_labels.ts";

/**
 * What a {@linkcode RucksackPacker} gets as inspection of a CRI container:
 * the decoded status message, the parsed verbose `info` JSON and the pod.
 *
 * @example
 * ```ts
 * import type { CriInspection } from "@whalewatcher/whalewatcher/cri";
 * const pick = (i: CriInspection) => i.info?.["runtimeType"];
 * ```
 */
export interface CriInspection {
  /** `"container"` or `"sandbox"`. */
  kind: "container" | "sandbox";
  /** `ContainerStatus` or `PodSandboxStatus`, snake_case keys. */
  status: Record<string, unknown>;
  /** The parsed JSON of the verbose `info["info"]`, when any. */
  info: Record<string, unknown> | undefined;
  /** The pod the container belongs to (for a sandbox: its own pod). */
  pod: {
    id: string;
    name: string;
    namespace: string;
    uid: string;
  } | undefined;
}

/** How the client turns a status into a container. */
export interface CriIdentityOptions {
  /** Label whose value becomes the project; none: no project. */
  projectLabel?: string;
  /** Packs the rucksack from the inspection. */
  packer?: RucksackPacker;
}

/**
 * The container of a CRI container or sandbox status: its PID from the
 * verbose `info`, its project from `projectLabel`, its rucksack from the
 * packer.
 */
export function criContainer(
  fields: { id: string; name: string; labels: Record<string, string> },
  info: Record<string, string> | undefined,
  inspection: Omit<CriInspection, "info">,
  options: CriIdentityOptions,
): Container {
  const project = options.projectLabel === undefined
    ? ""
    : fields.labels[options.projectLabel] ?? "";
  const container = newContainer({
    ...fields,
    pid: verbosePid(info),
    project,
  });
  if (!options.packer) return container;
  const full: CriInspection = { ...inspection, info: verboseInfo(info) };
  return newContainer({
    ...container,
    rucksack: options.packer.pack(container, full),
  });
}
