// Where engines are usually found, as data, by the registry type of the
// adaptor that serves them. Adaptors add their own `socketPaths` and
// `processNames` at registration; these lists only make sure the issue's
// well-known places are tried even when an adaptor forgets one.

/** Discovery hints of one adaptor type. */
export interface CandidateHints {
  /** Environment variables naming an endpoint. */
  env: readonly string[];
  /** Socket paths; `$XDG_RUNTIME_DIR`, `$UID` and `~` are expanded. */
  socketPaths: readonly string[];
  /** Process names (`/proc/<pid>/comm`) of the engine. */
  processNames: readonly string[];
}

const CONTAINERD_SOCKETS = [
  "/run/containerd/containerd.sock",
  "/run/k3s/containerd/containerd.sock",
  "/run/k0s/containerd.sock",
  "/var/snap/microk8s/common/run/containerd.sock",
] as const;

/** Hints of the built-in adaptor types. */
export const WELL_KNOWN: Readonly<Record<string, CandidateHints>> = Object
  .freeze({
    // The Docker API adaptor also serves podman's Docker-compatible service.
    "docker.com": {
      env: ["DOCKER_HOST"],
      socketPaths: [
        "/run/docker.sock",
        "/var/run/docker.sock",
        "$XDG_RUNTIME_DIR/docker.sock",
        "~/.docker/run/docker.sock",
        "/run/user/$UID/docker.sock",
        "/run/podman/podman.sock",
        "$XDG_RUNTIME_DIR/podman/podman.sock",
      ],
      processNames: ["dockerd", "podman"],
    },
    "containerd.io": {
      env: ["CONTAINERD_ADDRESS"],
      socketPaths: CONTAINERD_SOCKETS,
      processNames: ["containerd"],
    },
    "cri": {
      env: ["CONTAINER_RUNTIME_ENDPOINT"],
      socketPaths: [...CONTAINERD_SOCKETS, "/var/run/crio/crio.sock"],
      processNames: ["containerd", "crio"],
    },
  });

/** Environment variables in the order they are tried. */
export const ENV_ORDER: readonly string[] = [
  "DOCKER_HOST",
  "CONTAINERD_ADDRESS",
  "CONTAINER_RUNTIME_ENDPOINT",
];

/**
 * The hints of `types` (adaptor registry types): the built-in data merged
 * with what the adaptors declare, in a stable order without duplicates.
 */
export function hintsOf(
  adapters: readonly {
    type: string;
    socketPaths?: readonly string[];
    processNames?: readonly string[];
  }[],
): CandidateHints {
  const env = new Set<string>();
  const socketPaths = new Set<string>();
  const processNames = new Set<string>();
  for (const a of adapters) {
    const known = WELL_KNOWN[a.type];
    for (const e of known?.env ?? []) env.add(e);
    for (const p of known?.socketPaths ?? []) socketPaths.add(p);
    for (const p of a.socketPaths ?? []) socketPaths.add(p);
    for (const n of known?.processNames ?? []) processNames.add(n);
    for (const n of a.processNames ?? []) processNames.add(n);
  }
  return {
    env: ENV_ORDER.filter((e) => env.has(e)),
    socketPaths: [...socketPaths],
    processNames: [...processNames],
  };
}
