// Maps Docker's container inspection to a Container: a pure function, so the
// mapping (privileged marker, rucksack) is testable without an engine — the
// rig cannot run privileged containers (no CAP_SYS_RESOURCE).
import {
  type Container,
  newContainer,
  ProcesslessContainerError,
  type RucksackPacker,
} from "../../engineclient/mod.ts";

/**
 * The label the Docker adaptor adds (value `"true"`) to privileged
 * containers.
 *
 * @example
 * ```ts
 * import { PRIVILEGED_LABEL } from "@whalewatcher/whalewatcher/docker";
 * console.log(PRIVILEGED_LABEL); // "whalewatcher/privileged"
 * ```
 */
export const PRIVILEGED_LABEL = "whalewatcher/privileged";

/** What Docker's container inspection says, as far as we read it. */
export interface Inspection {
  Id: string;
  Name?: string;
  State?: { Running?: boolean; Paused?: boolean; Pid?: number };
  Config?: { Labels?: Record<string, string> | null };
  HostConfig?: { Privileged?: boolean };
}

/**
 * The container of an inspection; throws {@linkcode ProcesslessContainerError}
 * (naming `nameOrId`) when it has no process (created, exited, or pid 0).
 */
export function containerFromInspection(
  nameOrId: string,
  inspection: Inspection,
  options: { engine?: string; packer?: RucksackPacker } = {},
): Container {
  const state = inspection.State ?? {};
  const pid = state.Pid ?? 0;
  if (!state.Running || pid <= 0) {
    throw new ProcesslessContainerError(nameOrId, { engine: options.engine });
  }
  const labels: Record<string, string> = { ...inspection.Config?.Labels };
  if (inspection.HostConfig?.Privileged) labels[PRIVILEGED_LABEL] = "true";
  const init = {
    id: inspection.Id,
    name: (inspection.Name ?? inspection.Id).replace(/^\//, ""),
    labels,
    pid,
    paused: state.Paused ?? false,
  };
  if (!options.packer) return newContainer(init);
  // The packer sees the container as it will be, minus the rucksack.
  const rucksack = options.packer.pack(
    newContainer({ ...init, labels: { ...labels } }),
    inspection,
  );
  return newContainer({ ...init, rucksack });
}
