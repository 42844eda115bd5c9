/**
 * The labels the CRI adaptor adds to every container and pod sandbox, so
 * that pod membership can be queried like any other label.
 *
 * Keys follow the kubelet's own container labels (`io.kubernetes.*`), so a
 * container created by the kubelet carries the same values twice over; the
 * sandbox marker and the sandbox ID use the `whalewatcher/` prefix.
 * Annotations become labels under a prefix, `annotation.` by default (the
 * convention of the kubelet's former Docker shim).
 *
 * @module
 */

/**
 * Label with the pod's name (sandboxes and containers).
 *
 * @example
 * ```ts
 * import { CRI_POD_NAME_LABEL } from "@whalewatcher/whalewatcher/cri";
 * console.log(CRI_POD_NAME_LABEL); // "io.kubernetes.pod.name"
 * ```
 */
export const CRI_POD_NAME_LABEL = "io.kubernetes.pod.name";

/**
 * Label with the pod's Kubernetes namespace (sandboxes and containers).
 *
 * @example
 * ```ts
 * import { CRI_POD_NAMESPACE_LABEL } from "@whalewatcher/whalewatcher/cri";
 * console.log(CRI_POD_NAMESPACE_LABEL); // "io.kubernetes.pod.namespace"
 * ```
 */
export const CRI_POD_NAMESPACE_LABEL = "io.kubernetes.pod.namespace";

/**
 * Label with the pod's UID (sandboxes and containers).
 *
 * @example
 * ```ts
 * import { CRI_POD_UID_LABEL } from "@whalewatcher/whalewatcher/cri";
 * console.log(CRI_POD_UID_LABEL); // "io.kubernetes.pod.uid"
 * ```
 */
export const CRI_POD_UID_LABEL = "io.kubernetes.pod.uid";

/**
 * Label with the container's name in its pod; `"POD"` for a sandbox, as
 * the kubelet names it.
 *
 * @example
 * ```ts
 * import { CRI_CONTAINER_NAME_LABEL } from "@whalewatcher/whalewatcher/cri";
 * console.log(CRI_CONTAINER_NAME_LABEL); // "io.kubernetes.container.name"
 * ```
 */
export const CRI_CONTAINER_NAME_LABEL = "io.kubernetes.container.name";

/**
 * Sandbox marker: `"true"` on pod sandboxes, absent on containers.
 *
 * @example
 * ```ts
 * import { CRI_SANDBOX_LABEL } from "@whalewatcher/whalewatcher/cri";
 * console.log(CRI_SANDBOX_LABEL); // "whalewatcher/sandbox"
 * ```
 */
export const CRI_SANDBOX_LABEL = "whalewatcher/sandbox";

/**
 * Label with the ID of the pod sandbox a container belongs to (containers
 * only).
 *
 * @example
 * ```ts
 * import { CRI_SANDBOX_ID_LABEL } from "@whalewatcher/whalewatcher/cri";
 * console.log(CRI_SANDBOX_ID_LABEL); // "whalewatcher/sandbox-id"
 * ```
 */
export const CRI_SANDBOX_ID_LABEL = "whalewatcher/sandbox-id";

/**
 * The default prefix under which annotations become labels.
 *
 * @example
 * ```ts
 * import { CRI_ANNOTATION_PREFIX } from "@whalewatcher/whalewatcher/cri";
 * console.log(CRI_ANNOTATION_PREFIX); // "annotation."
 * ```
 */
export const CRI_ANNOTATION_PREFIX = "annotation.";
