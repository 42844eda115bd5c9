// The Docker adaptor over SSH: a private sshd on a loopback port whose
// sessions reach a dockerd of the rig (`docker system dial-stdio`, as the
// docker CLI's ssh:// does). The Docker suite's lifecycle and restart
// cases run over it, per engine instance; host keys are checked against
// known_hosts.
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { DockerClient, probeDocker, watchDocker } from "../../docker.ts";
import {
  EngineAuthError,
  EngineHostKeyError,
  EnginePermissionError,
} from "../../engineclient/mod.ts";
import { discoverEngines } from "../../watcher/discovery/mod.ts";
import { DockerCli, primaryDocker } from "../engines/docker.ts";
import {
  integrationTest,
  type Rig,
  run,
  testsOf,
  uniq,
} from "../engines/rig.ts";
import { startSshd, type TestSshd } from "../engines/sshd.ts";
import {
  bounded,
  type DockerTarget,
  lifecycleCase,
  restartResyncCase,
} from "./_docker_cases.ts";
import { watchReady } from "./_recorder.ts";

const dockerTest = testsOf("docker", DockerCli.of);

const ROOT = new URL("../../", import.meta.url).pathname;

function sshTarget(sshd: TestSshd, extra: Record<string, unknown> = {}) {
  return {
    endpoint: sshd.url,
    api: sshd.url,
    options: {
      ssh: {
        identityFile: sshd.clientKey,
        knownHosts: sshd.knownHosts,
        agent: false as const,
        ...extra,
      },
    },
  } satisfies DockerTarget;
}

function forRig(rig: Rig) {
  return startSshd(rig.dir, { dockerSocket: rig.dockerSocket });
}

dockerTest(
  "over ssh: start, pause, unpause, stop, kill -9 and rm -f each yield exactly their event",
  async (cli, engine, rig) => {
    await using sshd = await startSshd(rig.dir, {
      dockerSocket: engine.socket,
    });
    await lifecycleCase(cli, sshTarget(sshd));
  },
);

dockerTest(
  "over ssh: dockerd killed and restarted mid-watch resyncs to the truth with exactly the difference",
  async (cli, engine, rig) => {
    await using sshd = await startSshd(rig.dir, {
      dockerSocket: engine.socket,
    });
    await restartResyncCase(cli, engine, sshTarget(sshd));
  },
);

integrationTest(
  "docker over ssh: an unknown host, a changed host key and a refused key fail ready at once with typed errors; nothing is watched",
  async (rig) => {
    await using sshd = await forRig(rig);
    const empty = `${sshd.dir}/known_hosts.empty`;
    await Deno.writeTextFile(empty, "");
    const cases = [
      {
        what: "unknown host",
        ssh: { knownHosts: empty },
        check: (e: unknown) =>
          e instanceof EngineHostKeyError && e.reason === "unknown-host" &&
          e.host === `[127.0.0.1]:${sshd.port}` && e.knownHosts === empty &&
          e.fingerprint.startsWith("SHA256:"),
        reason: "host-key",
      },
      {
        what: "changed host key",
        ssh: { knownHosts: sshd.changedKnownHosts },
        check: (e: unknown) =>
          e instanceof EngineHostKeyError && e.reason === "changed-key" &&
          e.message.includes("CHANGED"),
        reason: "host-key",
      },
      {
        what: "refused key",
        ssh: { identityFile: sshd.strangerKey },
        check: (e: unknown) =>
          e instanceof EngineAuthError && e.message.includes(sshd.strangerKey),
        reason: "auth",
      },
    ];
    for (const c of cases) {
      const target = sshTarget(sshd, c.ssh);
      // Default backoff: a transient failure would retry and never settle.
      await using watcher = watchDocker(target.endpoint, {
        engine: target.options,
      });
      const watching = watcher.watch().catch((e) => e);
      const err = await bounded(
        watcher.ready.then(() => undefined, (e) => e),
        `ready to reject for the ${c.what}`,
      );
      assert(c.check(err), `${c.what}: ${err}`);
      assert(
        (err as Error).message.includes(sshd.url),
        `${c.what}: the message names the endpoint: ${err}`,
      );
      assertEquals(watcher.state, "failed");
      assertEquals(watcher.portfolio.size, 0);
      assert(c.check(await watching), `${c.what}: watch() ends with it`);
      await assertRejects(
        () => probeDocker(target.endpoint, target.options),
        (e: unknown) => c.check(e),
      );
      const found = await discoverEngines({
        endpoints: [{ endpoint: target.endpoint, options: target.options }],
        explicitOnly: true,
      });
      assertEquals(found.engines, []);
      assertEquals(found.rejected.map((r) => r.reason), [c.reason]);
    }
    // The right known_hosts (hashed, as `ssh-keyscan -H` writes) accepts it.
    const hashed = `${sshd.dir}/known_hosts.hashed`;
    await run("bash", [
      "-c",
      `cp '${sshd.knownHosts}' '${hashed}' && ssh-keygen -q -H -f '${hashed}' && rm -f '${hashed}.old'`,
    ]);
    assert(!(await Deno.readTextFile(hashed)).includes("127.0.0.1"));
    const ok = sshTarget(sshd, { knownHosts: hashed });
    assertEquals(
      (await probeDocker(ok.endpoint, ok.options))?.type,
      "docker.com",
    );
  },
);

integrationTest(
  "docker over ssh: keys from the agent; an ssh:// DOCKER_HOST and its agent do not override the given options",
  async (rig) => {
    await using sshd = await forRig(rig);
    const agentSock = `${sshd.dir}/agent.sock`;
    const out = await run("ssh-agent", ["-a", agentSock]);
    const agentPid = Number(/SSH_AGENT_PID=(\d+)/.exec(out)?.[1] ?? 0);
    assert(agentPid > 0, `no agent PID in: ${out}`);
    const saved = ["DOCKER_HOST", "SSH_AUTH_SOCK"].map((
      k,
    ) => [k, Deno.env.get(k)] as const);
    try {
      await run("bash", [
        "-c",
        `SSH_AUTH_SOCK='${agentSock}' ssh-add -q '${sshd.clientKey}'`,
      ]);
      // No key file: the agent's key must do.
      const viaAgent = new DockerClient(sshd.url, {
        ssh: { agent: agentSock, knownHosts: sshd.knownHosts },
      });
      try {
        assertEquals(
          await viaAgent.id(),
          await primaryDocker().docker("info", "-f", "{{.ID}}"),
        );
      } finally {
        await viaAgent.close();
      }
      // The same from SSH_AUTH_SOCK.
      Deno.env.set("SSH_AUTH_SOCK", agentSock);
      const fromEnv = new DockerClient(sshd.url, {
        ssh: { knownHosts: sshd.knownHosts },
      });
      try {
        assert((await fromEnv.list()) instanceof Array);
      } finally {
        await fromEnv.close();
      }
      // docker-modem's defaults from an ssh:// DOCKER_HOST would replace
      // the client's SSH options (agent, host key check) with its own.
      Deno.env.set("DOCKER_HOST", "ssh://nobody@127.0.0.1:1");
      Deno.env.set("SSH_AUTH_SOCK", `${sshd.dir}/no-agent.sock`);
      const explicit = sshTarget(sshd);
      const client = new DockerClient(explicit.endpoint, explicit.options);
      try {
        assert((await client.list()) instanceof Array);
      } finally {
        await client.close();
      }
      const strict = new DockerClient(sshd.url, {
        ssh: { ...explicit.options.ssh, knownHosts: sshd.changedKnownHosts },
      });
      try {
        await assertRejects(() => strict.list(), EngineHostKeyError);
      } finally {
        await strict.close();
      }
    } finally {
      for (const [k, v] of saved) {
        if (v === undefined) Deno.env.delete(k);
        else Deno.env.set(k, v);
      }
      Deno.kill(agentPid, "SIGTERM");
    }
  },
);

integrationTest(
  "docker over ssh: a socket path in the URL is reached by socket forwarding, as podman's connections are",
  async (rig) => {
    await using sshd = await forRig(rig);
    await using cli = primaryDocker();
    const target = sshTarget(sshd);
    const url = `${sshd.url}${rig.dockerSocket}`;
    const id = await cli.run({ name: uniq("fwd") });
    assertEquals(
      (await probeDocker(url, target.options))?.type,
      "docker.com",
    );
    await using watcher = watchDocker(url, { engine: target.options });
    await using _watch = await watchReady(watcher);
    assert(watcher.portfolio.container(id), "the container is listed");
    assertEquals(watcher.api, url);
  },
);

integrationTest(
  "docker over ssh: a missing Deno permission is a typed error naming the flag, never a crash",
  async (rig) => {
    await using sshd = await forRig(rig);
    const script = `
      import { DockerClient } from "${ROOT}docker.ts";
      const c = new DockerClient("${sshd.url}", { ssh: {
        identityFile: "${sshd.clientKey}", knownHosts: "${sshd.knownHosts}",
        agent: "${sshd.dir}/elsewhere/agent.sock" } });
      try { console.log("listed " + (await c.list()).length); }
      catch (e) { console.log(e.name, e.message); }
      finally { await c.close(); }
    `;
    // `deno eval` would grant everything: a script file with `deno run`.
    const file = `${sshd.dir}/permissions_check.ts`;
    await Deno.writeTextFile(file, script);
    const denoRun = async (net: string) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--config",
          `${ROOT}deno.json`,
          `--allow-read=${ROOT},${file},${sshd.clientKey},${sshd.knownHosts}`,
          "--allow-env",
          "--allow-sys",
          net,
          file,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      return new TextDecoder().decode(out.stdout) +
        new TextDecoder().decode(out.stderr);
    };
    // No net permission for the host: typed, with the flag to grant.
    const denied = await denoRun("--allow-net=127.0.0.1:1");
    assert(
      denied.includes("EnginePermissionError") &&
        denied.includes(`--allow-net=127.0.0.1:${sshd.port}`),
      denied,
    );
    // The agent's socket is not allowed: skipped; the key file does.
    const listed = await denoRun(`--allow-net=127.0.0.1:${sshd.port}`);
    assert(/^listed \d+/m.test(listed), listed);
    assert(EnginePermissionError.name === "EnginePermissionError");
  },
);

integrationTest(
  "docker over ssh: a host that refuses the dial-stdio channel fails the call with an error naming the endpoint",
  async (rig) => {
    // sshd logs the user in, then refuses the session channel `exec`
    // needs: the failure reaches the call as an error naming the endpoint.
    await using sshd = await startSshd(rig.dir, {
      dockerSocket: rig.dockerSocket,
      maxSessions: 0,
    });
    const target = sshTarget(sshd);
    const client = new DockerClient(target.endpoint, target.options);
    try {
      const err = await client.list().then(() => undefined, (e) => e);
      assert(err instanceof Error, "the list is refused");
      assert(
        err.message.includes(`127.0.0.1:${sshd.port}`),
        `the error names the endpoint: ${err.message}`,
      );
    } finally {
      await client.close();
    }
    await assertRejects(() => probeDocker(target.endpoint, target.options));
  },
);
