// deploy/ with the tools that use it: sid's kubectl renders both
// kustomizations (what `kubectl apply -k` sends), and every rendered object
// passes the same offline checks as tests/unit/deploy_manifests_test.ts.
// kubectl's dry-run modes need an API server, so kustomize's rendering is
// the part of kubectl that can run here.

import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { consumerTest, KUBECTL } from "../engines/consumers.ts";
import { integrationTest, type Rig } from "../engines/rig.ts";
import {
  type K8sObject,
  parseManifests,
  unknownFields,
  validateObject,
} from "../unit/_k8s_manifests.ts";

const root = new URL("../../", import.meta.url).pathname;

async function kustomize(
  dir: string,
): Promise<{ ok: boolean; out: string; err: string }> {
  // A private HOME: kubectl keeps a cache there.
  const home = await Deno.makeTempDir({ prefix: "ww-kubectl-" });
  try {
    const out = await new Deno.Command(KUBECTL, {
      args: ["kustomize", dir],
      env: { HOME: home, KUBECONFIG: "/dev/null", PATH: "/usr/bin:/bin" },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      ok: out.success,
      out: new TextDecoder().decode(out.stdout),
      err: new TextDecoder().decode(out.stderr),
    };
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

async function render(dir: string): Promise<K8sObject[]> {
  const result = await kustomize(dir);
  assert(result.ok, `kubectl kustomize ${dir} failed: ${result.err}`);
  const objects = parseManifests(result.out, `kubectl kustomize ${dir}`);
  for (const object of objects) {
    assertEquals(validateObject(object), [], `${dir}: ${object.kind}`);
    assertEquals(unknownFields(object), [], `${dir}: ${object.kind}`);
  }
  return objects;
}

// deno-lint-ignore no-explicit-any
type Loose = any;

consumerTest(
  "deploy: kubectl kustomize renders base and with-docker into valid objects",
  { tools: [KUBECTL] },
  async () => {
    const base = await render(`${root}deploy/kubernetes/base`);
    assertEquals(base.map((o) => o.kind).sort(), [
      "DaemonSet",
      "Namespace",
      "ServiceAccount",
    ]);
    const docker = await render(`${root}deploy/kubernetes/with-docker`);
    assertEquals(
      docker.map((o) => o.kind).sort(),
      base.map((o) => o.kind).sort(),
    );
    const ds = docker.find((o) => o.kind === "DaemonSet") as Loose;
    const pod = ds.spec.template.spec;
    // Both sockets, both read-only, both kubelet-checked; both groups.
    assertEquals(
      pod.volumes.map((v: Loose) => [v.hostPath.path, v.hostPath.type]).sort(),
      [
        ["/run/containerd/containerd.sock", "Socket"],
        ["/var/run/docker.sock", "Socket"],
      ],
    );
    const mounts = pod.containers[0].volumeMounts;
    assertEquals(mounts.length, 2);
    for (const mount of mounts) assertEquals(mount.readOnly, true, mount.name);
    assertEquals(pod.securityContext.supplementalGroups, [0, 999]);
    // The patch changed nothing else of the base.
    const baseDs = base.find((o) => o.kind === "DaemonSet") as Loose;
    const strip = (d: Loose) => {
      const copy = structuredClone(d);
      delete copy.spec.template.spec.volumes;
      delete copy.spec.template.spec.containers[0].volumeMounts;
      delete copy.spec.template.spec.securityContext.supplementalGroups;
      return copy;
    };
    assertEquals(strip(ds), strip(baseDs));
  },
);

consumerTest(
  "deploy: kubectl kustomize rejects a kustomization with a typo'd field",
  { tools: [KUBECTL] },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "ww-kustomize-" });
    try {
      for (const entry of Deno.readDirSync(`${root}deploy/kubernetes/base`)) {
        await Deno.copyFile(
          `${root}deploy/kubernetes/base/${entry.name}`,
          `${dir}/${entry.name}`,
        );
      }
      // The copy renders: the failure below is the typo's.
      assert((await kustomize(dir)).ok);
      const file = `${dir}/kustomization.yaml`;
      const text = await Deno.readTextFile(file);
      await Deno.writeTextFile(file, text.replace("resources:", "resource:"));
      const result = await kustomize(dir);
      assertEquals(result.ok, false);
      assertMatch(result.err, /unknown field "resource"/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

// One command in a private mount namespace (gone with the command, so no
// mount outlives it): the rig's sockets bind-mounted read-only into `dir`,
// as the kubelet mounts the DaemonSet's hostPath volumes, then `probe` run
// as the pod's user with `groups`. Returns the probe's exit code and output.
async function asPod(
  rig: Rig,
  dir: string,
  probe: { uid: number; gid: number; groups: number[]; cmd: string[] },
): Promise<{ code: number; out: string }> {
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const groups = probe.groups.length
    ? `--groups ${probe.groups.join(",")}`
    : "--clear-groups";
  // /proc/self/mounts: device, mount point, type, options ("ro,...").
  const readOnly = ` ${dir}/[^ ]* [^ ]* ro[, ]`;
  const script = [
    `mount --bind -o ro ${quote(rig.dockerSocket)} ${
      quote(`${dir}/docker.sock`)
    }`,
    `mount --bind -o ro ${quote(rig.containerdSocket)} ${
      quote(`${dir}/containerd.sock`)
    }`,
    // Both mounts are read-only.
    `test "$(grep -c -- ${quote(readOnly)} /proc/self/mounts)" = 2 || exit 90`,
    `exec setpriv --reuid ${probe.uid} --regid ${probe.gid} ${groups} -- ${
      probe.cmd.map(quote).join(" ")
    }`,
  ].join(" && ");
  const out = await new Deno.Command("unshare", {
    args: ["--mount", "--propagation", "private", "sh", "-c", script],
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: dir },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, out: decode(out.stdout) + decode(out.stderr) };
}

integrationTest(
  "deploy: read-only socket mounts and the pod's user with only the socket's group reach the engines; without that group they are refused",
  async (rig) => {
    const [ds] = parseManifests(
      await Deno.readTextFile(`${root}deploy/kubernetes/base/daemonset.yaml`),
      "daemonset.yaml",
    ) as Loose[];
    const { runAsUser: uid, runAsGroup: gid, supplementalGroups } =
      ds.spec.template.spec.securityContext;
    // The docker group's ID of this machine stands in for DOCKER_GID.
    const dockerGid = (await Deno.stat(rig.dockerSocket)).gid!;
    assert(dockerGid > 0, "the rig's docker socket belongs to a group");
    const dir = await Deno.makeTempDir({ prefix: "ww-pod-" });
    try {
      // The pod's user must be able to reach the mount points.
      await Deno.chmod(dir, 0o755);
      await Deno.writeTextFile(`${dir}/docker.sock`, "");
      await Deno.writeTextFile(`${dir}/containerd.sock`, "");
      const dockerCli = [
        "docker",
        "-H",
        `unix://${dir}/docker.sock`,
        "version",
        "--format",
        "{{.Server.Version}}",
      ];
      const ctr = [
        rig.ctrBin,
        "--address",
        `${dir}/containerd.sock`,
        "version",
      ];

      const containerd = await asPod(rig, dir, {
        uid,
        gid,
        groups: supplementalGroups,
        cmd: ctr,
      });
      assertEquals(containerd.code, 0, containerd.out);
      assertMatch(containerd.out, /Server:\s+Version:/);
      const docker = await asPod(rig, dir, {
        uid,
        gid,
        groups: [...supplementalGroups, dockerGid],
        cmd: dockerCli,
      });
      assertEquals(docker.code, 0, docker.out);
      assertMatch(docker.out, /^\d+\.\d+/m);

      // Without the socket's group: refused, so the groups are what grant
      // access (and the pod's user has no other way in).
      const noGroup = await asPod(rig, dir, { uid, gid, groups: [], cmd: ctr });
      assert(noGroup.code !== 0 && noGroup.code !== 90, noGroup.out);
      assertMatch(noGroup.out, /permission denied/);
      const wrongGroup = await asPod(rig, dir, {
        uid,
        gid,
        groups: supplementalGroups,
        cmd: dockerCli,
      });
      assert(wrongGroup.code !== 0 && wrongGroup.code !== 90, wrongGroup.out);
      assertMatch(wrongGroup.out, /permission denied/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
