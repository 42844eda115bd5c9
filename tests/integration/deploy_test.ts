// deploy/ with the tools that use it: sid's kubectl renders both
// kustomizations (what `kubectl apply -k` sends), and every rendered object
// passes the same offline checks as tests/unit/deploy_manifests_test.ts.
// kubectl's dry-run modes need an API server, so kustomize's rendering is
// the part of kubectl that can run here. The image cannot be built here (no
// image registry for its base images), so its command runs as it is on the
// test rig's Docker; and the DaemonSet's access model (read-only socket
// mounts, a user with only the socket's group) is tried with the kernel.

import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { consumerTest, Daemon, KUBECTL, until } from "../engines/consumers.ts";
import { integrationTest, primary, type Rig } from "../engines/rig.ts";
import { docker } from "../engines/docker.ts";
import {
  type K8sObject,
  parseContainerfile,
  parseManifests,
  unknownFields,
  validateObject,
} from "../unit/_deploy.ts";

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
        primary("containerd").ctr!,
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

/** The image's command line and environment, as the Containerfile sets them. */
function imageCommand(): { argv: string[]; env: Record<string, string> } {
  const steps = parseContainerfile(
    Deno.readTextFileSync(`${root}deploy/Containerfile`),
  );
  const last = (keyword: string) =>
    steps.filter(([k]) => k === keyword).at(-1)![1];
  const env: Record<string, string> = {};
  for (const [k, rest] of steps) {
    if (k !== "ENV") continue;
    for (const pair of rest.split(/\s+/)) {
      const [name, value] = pair.split("=");
      env[name] = value;
    }
  }
  return {
    argv: [...JSON.parse(last("ENTRYPOINT")), ...JSON.parse(last("CMD"))],
    env,
  };
}

integrationTest(
  "deploy: the image's command serves the rig with the token from WHALEWATCHER_TOKEN, refuses to start without it, and stops on SIGTERM",
  async (rig) => {
    const image = imageCommand();
    // This machine's deno for the image's; the image's dependency cache is
    // replaced by this user's.
    const [, ...args] = image.argv;
    const { DENO_DIR: _, ...imageEnv } = image.env;
    const env = {
      ...imageEnv,
      HOME: Deno.env.get("HOME") ?? "/root",
      PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
    };
    const cwd = root;

    // As built: listening on 0.0.0.0 without the Secret's token is refused
    // before anything is bound.
    const refused = await new Deno.Command(Deno.execPath(), {
      args: [...args, "--socket", rig.dockerSocket],
      env,
      clearEnv: true,
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(refused.code, 2);
    assertMatch(new TextDecoder().decode(refused.stderr), /token/);

    // With the token, on loopback here (the image's 0.0.0.0 replaced), and
    // the rig's Docker instead of the node's sockets.
    const listen = args.indexOf("--listen");
    assert(listen > 0, "the image's command has --listen");
    args[listen + 1] = "127.0.0.1:0";
    const token = crypto.randomUUID();
    const id = await docker("run", "-d", rig.image);
    const agent = new Daemon(
      Deno.execPath(),
      [...args, "--socket", rig.dockerSocket],
      { env: { ...env, WHALEWATCHER_TOKEN: token }, cwd },
    );
    try {
      let url = "";
      await until("the agent to say where it serves", () => {
        url = /serving (http:\/\/\S+\/)/.exec(agent.log)?.[1] ?? "";
        return url !== "";
      }, { timeoutMs: 30_000 }).catch((e) => {
        throw agent.error(e.message);
      });
      assert(!agent.log.includes(token), "the agent logs its token");
      await until("/healthz to answer 200 without the token", async () => {
        const response = await fetch(new URL("healthz", url));
        await response.body?.cancel();
        return response.status === 200;
      });
      const anonymous = await fetch(new URL("containers", url));
      await anonymous.body?.cancel();
      assertEquals(anonymous.status, 401);
      const response = await fetch(new URL("containers", url), {
        headers: { authorization: `Bearer ${token}` },
      });
      assertEquals(response.status, 200);
      const body = JSON.stringify(await response.json());
      assert(body.includes(id), `/containers lists ${id}: ${body}`);
      const status = await agent.stop({ graceMs: 10_000 });
      assertEquals(status.code, 0, agent.log);
    } finally {
      await agent.stop();
      await docker("rm", "-f", id);
    }
  },
);

integrationTest(
  "deploy: the agent runs as the image's user with only the socket's group, a read-only dependency cache and a read-only root",
  async (rig) => {
    const image = imageCommand();
    const [, ...args] = image.argv;
    args[args.indexOf("--listen") + 1] = "127.0.0.1:0";
    const [uid, gid] = parseContainerfile(
      await Deno.readTextFile(`${root}deploy/Containerfile`),
    ).filter(([k]) => k === "USER").at(-1)![1].split(":").map(Number);
    const dockerGid = (await Deno.stat(rig.dockerSocket)).gid!;
    // This machine's dependency cache stands in for the image's.
    const info = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json"],
      stdout: "piped",
      stderr: "null",
    }).output();
    const denoDir: string = JSON.parse(new TextDecoder().decode(info.stdout))
      .denoDir;
    const dir = await Deno.makeTempDir({ prefix: "ww-image-" });
    await Deno.chmod(dir, 0o755); // the image's user reaches the cache
    const token = crypto.randomUUID();
    const id = await docker("run", "-d", rig.image);
    const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
    const env = {
      ...image.env,
      DENO_DIR: `${dir}/deno-dir`,
      HOME: "/nonexistent",
      PATH: "/usr/bin:/bin",
      WHALEWATCHER_TOKEN: token,
    };
    const checkout = root.replace(/\/$/, "");
    // In a private mount namespace (gone with the agent): the cache and the
    // checkout read-only, as in the image with readOnlyRootFilesystem.
    const script = [
      `mkdir ${quote(`${dir}/deno-dir`)}`,
      `mount --bind -o ro ${quote(denoDir)} ${quote(`${dir}/deno-dir`)}`,
      `mount --bind -o ro ${quote(checkout)} ${quote(checkout)}`,
      `cd ${quote(checkout)}`,
      `exec setpriv --reuid ${uid} --regid ${gid} --groups ${dockerGid} -- env -i ${
        Object.entries(env).map(([k, v]) => quote(`${k}=${v}`)).join(" ")
      } ${quote(Deno.execPath())} ${
        [...args, "--socket", rig.dockerSocket].map(quote).join(" ")
      }`,
    ].join(" && ");
    const agent = new Daemon(
      "unshare",
      ["--mount", "--propagation", "private", "sh", "-c", script],
      { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } },
    );
    try {
      let url = "";
      await until("the agent to say where it serves", () => {
        url = /serving (http:\/\/\S+\/)/.exec(agent.log)?.[1] ?? "";
        return url !== "";
      }, { timeoutMs: 30_000 }).catch((e) => {
        throw agent.error(e.message);
      });
      // It is who the image says, with no other group than the socket's.
      const status = await Deno.readTextFile(`/proc/${agent.pid}/status`);
      assertMatch(status, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s`, "m"));
      assertMatch(status, new RegExp(`^Gid:\\s+${gid}\\s+${gid}\\s`, "m"));
      assertMatch(status, new RegExp(`^Groups:\\s+${dockerGid}\\s*$`, "m"));
      await until("/containers to list the rig's container", async () => {
        const response = await fetch(new URL("containers", url), {
          headers: { authorization: `Bearer ${token}` },
        });
        return response.ok && (await response.text()).includes(id);
      }, { timeoutMs: 15_000 }).catch((e) => {
        throw agent.error(e.message);
      });
      const health = await fetch(new URL("healthz", url));
      await health.body?.cancel();
      assertEquals(health.status, 200, agent.log);
      assertEquals((await agent.stop()).code, 0, agent.log);
    } finally {
      await agent.stop();
      await docker("rm", "-f", id);
      await Deno.remove(dir, { recursive: true });
    }
  },
);
