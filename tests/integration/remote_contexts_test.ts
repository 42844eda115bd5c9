// Docker contexts made by the real docker CLI on a made-up HOME, pointing
// at the rig: a TLS dockerd (context with TLS material) and the rig's
// dockerd over SSH (key and known_hosts in HOME's ~/.ssh). Discovery takes
// the current context; the CLI, run with exactly the watch task's
// permissions, watches the contexts named with --context.
import { assert, assertEquals } from "../_assert.ts";
import { dockerAdapter } from "../../docker.ts";
import { EngineRegistry } from "../../engineclient/mod.ts";
import {
  discoverEngines,
  engineCandidates,
} from "../../watcher/discovery/mod.ts";
import { AddedDockerd, primaryDocker } from "../engines/docker.ts";
import { integrationTest, uniq } from "../engines/rig.ts";
import { startSshd } from "../engines/sshd.ts";
import { makeTestCerts } from "../engines/tls.ts";
import { outputOf, taskPermissions } from "../_task.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const PATH = "/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The docker CLI with HOME set to `home` and nothing else from us. */
async function dockerCli(home: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("docker", {
    args,
    clearEnv: true,
    env: { HOME: home, PATH },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert(
    out.success,
    `docker ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
  );
  return text.trim();
}

// What of our environment the CLI must not see: it would point elsewhere.
const HIDDEN = /^(SSH_AUTH_SOCK|DOCKER_.*|CONTAINER_.*|XDG_CONFIG_HOME|HOME)$/;

/** The CLI as `deno task watch` runs it, with HOME set to `home`. */
async function watchCli(home: string, args: string[]) {
  const ours = Object.entries(Deno.env.toObject()).filter(([k]) =>
    !HIDDEN.test(k)
  );
  const env: Record<string, string> = {
    ...Object.fromEntries(ours),
    // Deno's own cache stays where it is (it lives under the real HOME).
    DENO_DIR: Deno.env.get("DENO_DIR") ??
      `${Deno.env.get("HOME")}/.cache/deno`,
    HOME: home,
    NO_COLOR: "1",
  };
  return await outputOf(
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...taskPermissions("watch", { ...env, INIT_CWD: ROOT }),
        `${ROOT}cli/mod.ts`,
        ...args,
      ],
      cwd: ROOT,
      clearEnv: true,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }),
  );
}

integrationTest(
  "contexts: the docker CLI's contexts on a made-up HOME reach the rig over TLS and SSH; --context in the CLI under the watch task's permissions",
  async (rig) => {
    const home = await Deno.makeTempDir({ dir: rig.dir, prefix: "home-" });
    const certs = await makeTestCerts(`${home}/certs`);
    await using localHost = primaryDocker();
    await using tlsHost = await AddedDockerd.add("ctx", { tls: certs.server });
    await using sshd = await startSshd(rig.dir, {
      dockerSocket: rig.dockerSocket,
    });
    try {
      // ~/.ssh as a user has it: a default key and the host's key.
      await Deno.mkdir(`${home}/.ssh`, { mode: 0o700 });
      await Deno.copyFile(sshd.clientKey, `${home}/.ssh/id_ed25519`);
      await Deno.chmod(`${home}/.ssh/id_ed25519`, 0o600);
      await Deno.copyFile(sshd.knownHosts, `${home}/.ssh/known_hosts`);
      const c = certs.client;
      await dockerCli(
        home,
        "context",
        "create",
        "tls-ctx",
        "--docker",
        `host=${tlsHost.tcpUrl},ca=${c.dir}/ca.pem,cert=${c.dir}/cert.pem,key=${c.dir}/key.pem`,
      );
      await dockerCli(
        home,
        "context",
        "create",
        "ssh-ctx",
        "--docker",
        `host=${sshd.url}`,
      );
      await dockerCli(home, "context", "use", "tls-ctx");

      // Discovery: the current context is a candidate, with its TLS material.
      const registry = new EngineRegistry();
      registry.register(dockerAdapter);
      const env = (name: string) => ({ HOME: home })[name];
      const candidates = await engineCandidates({
        registry,
        env,
        procRoot: `${home}/no-proc`,
      });
      const current = candidates.find((x) => x.source === "config");
      assertEquals(current?.endpoint, tlsHost.tcpUrl);
      assertEquals(current?.name, 'docker context "tls-ctx"');
      assertEquals(
        (current?.options?.tls as { cert?: string })?.cert,
        certs.client.cert,
      );
      const found = await discoverEngines({
        registry,
        env,
        contexts: ["tls-ctx"],
        explicitOnly: true,
      });
      assertEquals(found.engines.map((e) => [e.type, e.endpoint, e.name]), [
        ["docker.com", tlsHost.tcpUrl, 'docker context "tls-ctx"'],
      ]);

      const onSsh = await localHost.run({ name: uniq("ctx") });
      const onTls = await tlsHost.run({ name: uniq("ctx-tls") });
      const { code, stdout, stderr } = await watchCli(home, [
        "--once",
        "--json",
        "--context",
        "tls-ctx",
        "--context",
        "ssh-ctx",
      ]);
      assertEquals(code, 0, stderr);
      const lines = stdout.split("\n").filter(Boolean).map((l) =>
        JSON.parse(l)
      );
      const ready = lines.filter((l) => l.type === "ready");
      assertEquals(
        ready.map((l) => l.api).sort(),
        [tlsHost.tcpUrl, sshd.url].sort(),
      );
      const engineIdOf = Object.fromEntries(
        ready.map((l) => [l.api, l.engineId]),
      );
      assertEquals(
        engineIdOf[tlsHost.tcpUrl!],
        await tlsHost.docker("info", "-f", "{{.ID}}"),
      );
      assertEquals(
        engineIdOf[sshd.url],
        await localHost.docker("info", "-f", "{{.ID}}"),
      );
      const containers = lines.filter((l) => l.type === "container");
      const at = (id: string) => containers.find((l) => l.id === id);
      assertEquals([at(onTls)?.api, at(onTls)?.engineId], [
        tlsHost.tcpUrl,
        engineIdOf[tlsHost.tcpUrl!],
      ]);
      assertEquals([at(onSsh)?.api, at(onSsh)?.engineId], [
        sshd.url,
        engineIdOf[sshd.url],
      ]);
      // Every line names its host.
      for (const l of lines) assert(l.api && l.engineId, JSON.stringify(l));

      // Human lines: the engine's header names the endpoint and engine ID.
      const human = await watchCli(home, ["--once", "--context", "ssh-ctx"]);
      assertEquals(human.code, 0, human.stderr);
      assert(
        human.stdout.includes(
          `docker.com  ${sshd.url}  engine ${engineIdOf[sshd.url].slice(0, 9)}`,
        ),
        human.stdout,
      );
      // An unknown name is told; the known one is still watched.
      const some = await watchCli(home, [
        "--once",
        "--json",
        "--context",
        "nope",
        "--context",
        "ssh-ctx",
      ]);
      assertEquals(some.code, 0, some.stderr);
      assert(some.stderr.includes('named "nope"'), some.stderr);
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
);
