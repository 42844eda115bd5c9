/**
 * Builds a container's label set from CRI objects (internal).
 *
 * @module
 */

import {
  CRI_CONTAINER_NAME_LABEL,
  CRI_POD_NAME_LABEL,
  CRI_POD_NAMESPACE_LABEL,
  CRI_POD_UID_LABEL,
  CRI_SANDBOX_ID_LABEL,
  CRI_SANDBOX_LABEL,
} from "./labels.ts";

/** What the adaptor keeps of a pod sandbox (immutable in CRI). */
export interface PodInfo {
  id: string;
  name: string;
  namespace: string;
  uid: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** A CRI object's own labels and annotations. */
export interface Labelled {
  labels?: Record<string, string> | null;
  annotations?: Record<string, string> | null;
}

/**
 * Makes a {@linkcode PodInfo} from a `PodSandbox` or `PodSandboxStatus`
 * message (snake_case, as decoded).
 */
// deno-lint-ignore no-explicit-any
export function podInfo(sandbox: any): PodInfo {
  const meta = sandbox?.metadata ?? {};
  return {
    id: String(sandbox?.id ?? ""),
    name: String(meta.name ?? ""),
    namespace: String(meta.namespace ?? ""),
    uid: String(meta.uid ?? ""),
    labels: sandbox?.labels ?? {},
    annotations: sandbox?.annotations ?? {},
  };
}

/**
 * The labels of a container (or, with `containerName` undefined, of the pod
 * sandbox itself): own labels, then annotations under `annotationPrefix`
 * (none when `null`), then the pod keys, which win.
 */
export function criLabels(
  own: Labelled,
  pod: PodInfo | undefined,
  options: { containerName?: string; annotationPrefix: string | null },
): Record<string, string> {
  const labels: Record<string, string> = { ...own.labels };
  if (options.annotationPrefix !== null) {
    for (const [k, v] of Object.entries(own.annotations ?? {})) {
      labels[options.annotationPrefix + k] = v;
    }
  }
  if (pod) {
    labels[CRI_POD_NAME_LABEL] = pod.name;
    labels[CRI_POD_NAMESPACE_LABEL] = pod.namespace;
    labels[CRI_POD_UID_LABEL] = pod.uid;
  }
  if (options.containerName === undefined) {
    labels[CRI_CONTAINER_NAME_LABEL] = "POD";
    labels[CRI_SANDBOX_LABEL] = "true";
  } else {
    labels[CRI_CONTAINER_NAME_LABEL] = options.containerName;
    if (pod) labels[CRI_SANDBOX_ID_LABEL] = pod.id;
  }
  return labels;
}

/**
 * The PID in a verbose status' `info`: the `info` key holds a JSON object
 * with `pid` (containerd and cri-o). 0 when absent or malformed.
 */
export function verbosePid(info: Record<string, string> | undefined): number {
  const parsed = verboseInfo(info);
  const pid = parsed?.pid;
  return typeof pid === "number" && Number.isSafeInteger(pid) && pid > 0
    ? pid
    : 0;
}

/** The parsed JSON of a verbose status' `info["info"]`, if it is an object. */
export function verboseInfo(
  info: Record<string, string> | undefined,
): Record<string, unknown> | undefined {
  const text = info?.["info"];
  if (typeof text !== "string") return undefined;
  try {
    const parsed = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null &&
        !Array.isArray(parsed)
      ? parsed
      : undefined;
  } catch {
    return undefined;
  }
}
