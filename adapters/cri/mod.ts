/**
 * The CRI adaptor (Kubernetes Container Runtime Interface, runtime API v1).
 * Importing this module registers it as `"cri"` (if the root module did
 * not already).
 *
 * It reports the running containers and ready pod sandboxes of containerd's
 * CRI plugin or cri-o, with their PIDs (from the verbose status) and these
 * labels besides their own: `io.kubernetes.pod.name`,
 * `io.kubernetes.pod.namespace`, `io.kubernetes.pod.uid`,
 * `io.kubernetes.container.name` (`"POD"` for sandboxes),
 * `whalewatcher/sandbox` (`"true"` on sandboxes),
 * `whalewatcher/sandbox-id` (on containers) and the annotations under
 * `annotation.`. Names are the CRI metadata names (a sandbox's is its pod's
 * name); there is no project unless `projectLabel` is configured, and no
 * pause state.
 *
 * Changes come from `GetContainerEvents` (containerd 1.7 and later); when
 * the runtime answers UNIMPLEMENTED (containerd 1.6, older cri-o), or with
 * the `relist` option, from relisting every `relistIntervalMs` (default
 * 1 s; a container that starts and stops within one interval is not seen).
 * containerd serves its events to ONE subscriber (a second one, such as a
 * kubelet with evented PLEG, takes a share of them): give such setups the
 * `relist` option.
 *
 * @example
 * ```ts ignore
 * import { CriClient } from "@whalewatcher/whalewatcher/cri";
 * await using cri = new CriClient("/run/containerd/containerd.sock");
 * for (const c of await cri.list()) {
 *   console.log(c.labels["io.kubernetes.pod.name"], c.name, c.pid);
 * }
 * ```
 *
 * @module
 */

import { engineRegistry } from "../../engineclient/mod.ts";
import { criAdapter } from "./adapter.ts";

export * from "./labels.ts";
export * from "./client.ts";
export * from "./endpoint.ts";
export * from "./probe.ts";
export * from "./adapter.ts";

// Guarded: the root module registers the same adaptor object.
if (!engineRegistry.has(criAdapter.type)) engineRegistry.register(criAdapter);
