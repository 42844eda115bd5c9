// deploy/: the Kubernetes manifests are valid against kubernetes-models,
// carry no field Kubernetes would ignore (a typo), run the agent with least
// privilege, and agree with each other and with the Containerfile (port,
// probes, token, Deno version). The checks are shown able to fail on
// manifests with a typo'd field, a missing one and a wrongly typed one.

import { assert, assertEquals, assertMatch } from "../_assert.ts";
import {
  type K8sObject,
  parseContainerfile,
  parseManifests,
  unknownFields,
  validateObject,
} from "./_deploy.ts";

const root = new URL("../../", import.meta.url);
const read = (path: string) => Deno.readTextFileSync(new URL(path, root));

// The files holding complete objects; with-docker/docker.yaml is a patch,
// checked for unknown fields here and complete after rendering in
// tests/integration/deploy_test.ts.
const objectFiles = [
  "deploy/kubernetes/base/namespace.yaml",
  "deploy/kubernetes/base/serviceaccount.yaml",
  "deploy/kubernetes/base/daemonset.yaml",
  "deploy/kubernetes/podmonitor.yaml",
];
const patchFiles = ["deploy/kubernetes/with-docker/docker.yaml"];

function load(path: string): K8sObject[] {
  return parseManifests(read(path), path);
}

// deno-lint-ignore no-explicit-any
type Loose = any;

function daemonSet(): Loose {
  const [ds] = load("deploy/kubernetes/base/daemonset.yaml");
  assertEquals(ds.kind, "DaemonSet");
  return ds;
}

Deno.test("deploy manifests: every object is valid and has no unknown field", () => {
  let count = 0;
  for (const path of objectFiles) {
    for (const object of load(path)) {
      count++;
      assertEquals(validateObject(object), [], `${path}: ${object.kind}`);
      assertEquals(unknownFields(object), [], `${path}: ${object.kind}`);
    }
  }
  assertEquals(count, objectFiles.length);
  for (const path of patchFiles) {
    for (const object of load(path)) {
      assertEquals(unknownFields(object), [], `${path}: ${object.kind}`);
    }
  }
});

Deno.test("deploy manifests: the checks catch typo'd, missing and wrongly typed fields", () => {
  // Fields Kubernetes would drop without a word: each is found, at its path.
  const typos = daemonSet();
  const pod = typos.spec.template.spec;
  pod.containers[0].volumeMounts[0].readonly = true;
  pod.securityContext.supplementalGroup = [0];
  pod.containers[0].livenessProbe.httpGet.paht = "/healthz";
  typos.metadata.label = { a: "b" };
  assertEquals(validateObject(typos), []); // what validate() alone misses
  assertEquals(unknownFields(typos).sort(), [
    "/metadata/label",
    "/spec/template/spec/containers/0/livenessProbe/httpGet/paht",
    "/spec/template/spec/containers/0/volumeMounts/0/readonly",
    "/spec/template/spec/securityContext/supplementalGroup",
  ]);
  // Keys that look odd but are known: map keys under labels/annotations.
  const odd = daemonSet();
  odd.spec.template.metadata.annotations["example.org/readonly"] = "x";
  assertEquals(unknownFields(odd), []);

  const missing = daemonSet();
  delete missing.spec.template.spec.containers[0].name;
  assertEquals(validateObject(missing), [
    '/spec/template/spec/containers/0: required {"missingProperty":"name"}',
  ]);

  // A group name where Kubernetes wants a GID.
  const typed = daemonSet();
  typed.spec.template.spec.securityContext.supplementalGroups = ["docker"];
  const errors = validateObject(typed);
  assertEquals(errors.length, 1, errors.join("\n"));
  assertMatch(
    errors[0],
    /^\/spec\/template\/spec\/securityContext\/supplementalGroups\/0: type/,
  );

  // Duplicate keys in YAML (the last one would silently win).
  let duplicate = "";
  try {
    parseManifests(
      "apiVersion: v1\nkind: Namespace\nkind: Secret\n",
      "dup.yaml",
    );
  } catch (error) {
    duplicate = String(error);
  }
  assertMatch(duplicate, /dup\.yaml: .*[Mm]ap keys must be unique/);
});

Deno.test("deploy DaemonSet: least privilege, read-only sockets, probes and token", () => {
  const ds = daemonSet();
  const pod = ds.spec.template.spec;
  assertEquals(pod.hostPID, false);
  assertEquals(pod.hostNetwork, false);
  assertEquals(pod.hostIPC, false);
  assertEquals(pod.automountServiceAccountToken, false);
  assertEquals(pod.securityContext.runAsNonRoot, true);
  assert(pod.securityContext.runAsUser > 0);
  assert(pod.securityContext.runAsGroup > 0);
  // containerd's socket is root:root 0660: GID 0 is its group, and the
  // only extra one.
  assertEquals(pod.securityContext.supplementalGroups, [0]);
  assertEquals(pod.containers.length, 1);
  const agent = pod.containers[0];
  assertEquals(agent.securityContext, {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    privileged: false,
    capabilities: { drop: ["ALL"] },
  });
  for (const kind of ["requests", "limits"]) {
    assert(agent.resources[kind].cpu, `${kind}.cpu`);
    assert(agent.resources[kind].memory, `${kind}.memory`);
  }

  // Every host path is an engine socket, type-checked by the kubelet and
  // mounted read-only at the same path.
  assertEquals(pod.volumes.length, agent.volumeMounts.length);
  for (const volume of pod.volumes) {
    assertEquals(volume.hostPath.type, "Socket", volume.name);
    const mount = agent.volumeMounts.find((m: Loose) => m.name === volume.name);
    assert(mount, `volume ${volume.name} is mounted`);
    assertEquals(mount.readOnly, true, volume.name);
    assertEquals(mount.mountPath, volume.hostPath.path);
  }
  assertEquals(pod.volumes.map((v: Loose) => v.hostPath.path), [
    "/run/containerd/containerd.sock",
  ]);

  // One port: the one the agent listens on, probed and scraped.
  assertEquals(agent.ports.length, 1);
  const port = agent.ports[0];
  assertEquals(agent.args, ["--listen", `0.0.0.0:${port.containerPort}`]);
  for (const probe of [agent.readinessProbe, agent.livenessProbe]) {
    assertEquals(probe.httpGet, { path: "/healthz", port: port.name });
  }
  assertEquals(ds.spec.template.metadata.annotations, {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": String(port.containerPort),
    "prometheus.io/path": "/metrics",
  });
  // Pods are selected by the labels they carry.
  assertEquals(ds.spec.selector.matchLabels, ds.spec.template.metadata.labels);

  // The token comes from the Secret the README tells to create, and the
  // PodMonitor scrapes that port with the same Secret.
  const token = { name: "whalewatcher-token", key: "token" };
  assertEquals(agent.env, [{
    name: "WHALEWATCHER_TOKEN",
    valueFrom: { secretKeyRef: token },
  }]);
  const [monitor] = load("deploy/kubernetes/podmonitor.yaml") as Loose[];
  assertEquals(monitor.spec.selector.matchLabels, ds.spec.selector.matchLabels);
  assertEquals(monitor.spec.podMetricsEndpoints[0].port, port.name);
  assertEquals(monitor.spec.podMetricsEndpoints[0].path, "/metrics");
  assertEquals(monitor.spec.podMetricsEndpoints[0].authorization, {
    type: "Bearer",
    credentials: token,
  });
  assertMatch(read("README.md"), /create secret generic whalewatcher-token/);

  // Everything in one namespace, the one namespace.yaml creates, and the
  // pod runs under the ServiceAccount defined next to it.
  const [namespace] = load("deploy/kubernetes/base/namespace.yaml");
  const [account] = load(
    "deploy/kubernetes/base/serviceaccount.yaml",
  ) as Loose[];
  const name = (namespace as Loose).metadata.name;
  for (const object of [ds, monitor, account]) {
    assertEquals(object.metadata.namespace, name, object.kind);
  }
  assertEquals(pod.serviceAccountName, account.metadata.name);
  assertEquals(account.automountServiceAccountToken, false);
});

Deno.test("deploy Containerfile: pinned Deno from npm, non-root, same port and permissions as serve", () => {
  const steps = parseContainerfile(read("deploy/Containerfile"));
  const all = (keyword: string) =>
    steps.filter(([k]) => k === keyword).map(([, rest]) => rest);
  const one = (keyword: string) => {
    const found = all(keyword);
    assertEquals(found.length, 1, keyword);
    return found[0];
  };

  // Base images by tag, never :latest or untagged, and of one Debian
  // release: the Deno binary built in the first stage links the second's
  // glibc.
  const froms = all("FROM");
  assertEquals(froms.length, 2);
  for (const from of froms) {
    assertMatch(from, /^[^\s:]+:(?!latest\b)[\w.-]*bookworm[\w.-]*( AS \S+)?$/);
  }
  // Deno from npm, the version CI installs.
  const ciVersion = read(".ci/run").match(/^DENO_VERSION=(\S+)$/m)![1];
  assert(
    all("RUN").some((r) => r.includes(`npm install -g deno@${ciVersion}`)),
    `the image installs deno@${ciVersion} from npm`,
  );
  // A numeric non-root user (no passwd entry needed; runAsNonRoot can only
  // verify a numeric one).
  const [uid, gid] = one("USER").split(":").map(Number);
  assert(uid > 0 && gid > 0, "USER is numeric and not root");
  const ds = daemonSet();
  const pod = ds.spec.template.spec;
  assertEquals([uid, gid], [
    pod.securityContext.runAsUser,
    pod.securityContext.runAsGroup,
  ]);

  // The port: exposed, listened on, and the DaemonSet's.
  const port = pod.containers[0].ports[0].containerPort;
  assertEquals(Number(one("EXPOSE")), port);
  const cmd = JSON.parse(one("CMD"));
  assertEquals(cmd, ["--listen", `0.0.0.0:${port}`]);
  assertEquals(pod.containers[0].args, cmd);

  // The entrypoint runs serve/mod.ts with exactly the permissions of
  // `deno task serve`, but for the read of the folder a task is run from
  // ($INIT_CWD, for --adapter modules given by path): the image has none.
  const entrypoint: string[] = JSON.parse(one("ENTRYPOINT"));
  const task: string = JSON.parse(read("deno.json")).tasks.serve;
  const taskArgs = task.replaceAll(",$INIT_CWD", "").split(/\s+/);
  assertEquals(entrypoint[0], "/usr/local/bin/deno");
  assertEquals(
    entrypoint.slice(1).filter((a) => a.startsWith("--allow-")).sort(),
    taskArgs.filter((a) => a.startsWith("--allow-")).sort(),
  );
  assertEquals(entrypoint.at(-1), taskArgs.at(-1));
  // Every source folder the entrypoint imports from is copied.
  const copied = all("COPY").flatMap((c) => c.split(/\s+/).slice(0, -1));
  for (const entry of Deno.readDirSync(root)) {
    if (entry.isDirectory && !entry.name.startsWith(".")) {
      const isSource = ["tests", "examples", "deploy", "docs", "node_modules"]
        .indexOf(entry.name) < 0;
      assertEquals(
        copied.includes(`${entry.name}/`),
        isSource,
        `COPY of ${entry.name}/`,
      );
    }
  }
});
