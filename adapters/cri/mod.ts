/**
 * The CRI adaptor (Kubernetes Container Runtime Interface, runtime API v1),
 * registered as `"cri"` in {@linkcode engineRegistry} when imported.
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
 * import { watchCri } from "@whalewatcher/whalewatcher/cri";
 * await using watcher = watchCri("/run/containerd/containerd.sock");
 * const ac = new AbortController();
 * const watching = watcher.watch(ac.signal);
 * await watcher.ready;
 * for (const c of watcher.portfolio.containers()) {
 *   console.log(c.labels["io.kubernetes.pod.name"], c.name, c.pid);
 * }
 * ac.abort();
 * await watching;
 * ```
 *
 * @module
 */

import { engineRegistry } from "../../engineclient/mod.ts";
import { criAdapter } from "./adapter.ts";

export * from "./labels.ts";
export * from "./client.ts";
export * from "./probe.ts";
export * from "./adapter.ts";
export * from "./watch.ts";

// Guarded: the module may be loaded twice (two specifiers, one registry).
if (!engineRegistry.has(criAdapter.type)) engineRegistry.register(criAdapter);
