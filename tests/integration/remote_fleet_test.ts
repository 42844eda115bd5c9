// A fleet across hosts: the rig's local dockerd, a dockerd over TLS and a
// dockerd over SSH, watched together. Every event names its engine's API
// endpoint and engine ID; a remote host that drops off (its sshd killed,
// the TLS dockerd stopped) gets its containers' `exited` events and comes
// back with `started` for what runs, like a local engine restart.
import { assert, assertEquals } from "../_assert.ts";
import { Fleet, type FleetEngineEvent, type FleetEvent } from "../../mod.ts";
import { AddedDockerd, primaryDocker } from "../engines/docker.ts";
import { integrationTest, uniq, waitFor } from "../engines/rig.ts";
import { startSshd } from "../engines/sshd.ts";
import { makeTestCerts } from "../engines/tls.ts";
import { ChildLines } from "./_lines.ts";

integrationTest(
  "fleet across hosts: local, TLS and SSH engines together; a host that drops off and comes back",
  async (rig) => {
    const certDir = await Deno.makeTempDir({ dir: rig.dir, prefix: "certs-" });
    const certs = await makeTestCerts(certDir);
    await using localHost = primaryDocker();
    await using tlsHost = await AddedDockerd.add("tls", { tls: certs.server });
    await using sshHost = await AddedDockerd.add("ssh");
    await using sshd = await startSshd(rig.dir, {
      dockerSocket: sshHost.socket,
    });
    const tlsUrl = tlsHost.tcpUrl!;
    const engineIds = {
      [rig.dockerSocket]: await localHost.docker("info", "-f", "{{.ID}}"),
      [tlsUrl]: await tlsHost.docker("info", "-f", "{{.ID}}"),
      [sshd.url]: await sshHost.docker("info", "-f", "{{.ID}}"),
    };
    assertEquals(new Set(Object.values(engineIds)).size, 3);
    const local = await localHost.run({ name: uniq("local") });
    const overTls = await tlsHost.run({ name: uniq("tls") });
    const overSsh = await sshHost.run({ name: uniq("ssh") });
    const fleet = new Fleet({
      endpoints: [
        rig.dockerSocket,
        { endpoint: tlsUrl, options: { tls: { certPath: certs.client.dir } } },
        {
          endpoint: sshd.url,
          options: {
            ssh: {
              identityFile: sshd.clientKey,
              knownHosts: sshd.knownHosts,
              agent: false,
            },
          },
        },
      ],
      explicitOnly: true,
      rediscoverIntervalMs: 300,
      watcher: { backoff: { initialMs: 50, maxMs: 300 } },
    });
    const seen: (FleetEvent | FleetEngineEvent)[] = [];
    const reading = (async () => {
      for await (const e of fleet.events({ engines: true })) seen.push(e);
    })();
    const mine = new Set([local, overTls, overSsh]);
    const of = (api: string) =>
      seen.filter((e) =>
        e.engine.api === api &&
        (e.type.startsWith("engine-") || mine.has((e as FleetEvent).id))
      ).map((e) =>
        e.type.startsWith("engine-")
          ? e.type
          : `${e.type}:${(e as FleetEvent).id}`
      );
    const waitSeen = (api: string, expected: string[], what: string) =>
      waitFor(() => of(api).length >= expected.length, {
        timeoutMs: 20_000,
        what: `${what} (have ${of(api).join(" ")})`,
      }).then(() => assertEquals(of(api), expected));
    try {
      await fleet.ready;
      const where = new Map(
        fleet.containers().filter((c) => mine.has(c.container.id)).map((
          c,
        ) => [c.container.id, c.engine]),
      );
      assertEquals(where.get(local)?.api, rig.dockerSocket);
      assertEquals(where.get(overTls)?.api, tlsUrl);
      assertEquals(where.get(overSsh)?.api, sshd.url);
      for (const [id, engine] of where) {
        assertEquals(engine.id, engineIds[engine.api], `engine ID of ${id}`);
      }
      for (const e of seen) {
        assertEquals(e.engine.id, engineIds[e.engine.api], `${e.type}`);
      }
      const initial = ["engine-added", "engine-ready"];
      await waitSeen(
        sshd.url,
        [initial[0], `started:${overSsh}`, initial[1]],
        "ssh host ready",
      );
      seen.length = 0;

      // The SSH host drops off: its sshd and every session killed.
      await sshd.kill();
      await waitSeen(
        sshd.url,
        [`exited:${overSsh}`, "engine-removed"],
        "the ssh host's exits",
      );
      await sshd.restart();
      await waitSeen(
        sshd.url,
        [
          `exited:${overSsh}`,
          "engine-removed",
          "engine-added",
          `started:${overSsh}`,
          "engine-ready",
        ],
        "the ssh host back",
      );

      // The TLS dockerd stops (its containers live on) and starts again.
      await tlsHost.stopDaemon();
      await waitSeen(
        tlsUrl,
        [`exited:${overTls}`, "engine-removed"],
        "the TLS host's exits",
      );
      await tlsHost.startDaemon();
      await waitSeen(
        tlsUrl,
        [
          `exited:${overTls}`,
          "engine-removed",
          "engine-added",
          `started:${overTls}`,
          "engine-ready",
        ],
        "the TLS host back",
      );
      // The local engine saw none of it.
      assertEquals(of(rig.dockerSocket), []);
      for (const e of seen) {
        assertEquals(e.engine.id, engineIds[e.engine.api], `${e.type}`);
      }
      assert(fleet.containers().some((c) => c.container.id === overTls));
    } finally {
      await fleet.close();
      await reading;
      await Deno.remove(certDir, { recursive: true });
    }
  },
);

integrationTest(
  "examples: two_hosts watches the local dockerd and a host over SSH, naming each",
  async (rig) => {
    await using localHost = primaryDocker();
    await using sshHost = await AddedDockerd.add("ex");
    await using sshd = await startSshd(rig.dir, {
      dockerSocket: sshHost.socket,
    });
    // A user's ~/.ssh: the default key and the host's key.
    const home = await Deno.makeTempDir({ dir: rig.dir, prefix: "home-" });
    await Deno.mkdir(`${home}/.ssh`);
    await Deno.copyFile(sshd.clientKey, `${home}/.ssh/id_ed25519`);
    await Deno.copyFile(sshd.knownHosts, `${home}/.ssh/known_hosts`);
    const remoteName = uniq("ex-remote");
    const localName = uniq("ex-local");
    await sshHost.run({ name: remoteName });
    await localHost.run({ name: localName });
    const idOf = async (cli: { docker(...a: string[]): Promise<string> }) =>
      (await cli.docker("info", "-f", "{{.ID}}")).slice(0, 9);
    // Each container's line names its host and engine.
    const expected = [
      `${sshd.url} (engine ${await idOf(sshHost)}): started ${remoteName} `,
      `${rig.dockerSocket} (engine ${await idOf(
        localHost,
      )}): started ${localName} `,
    ];
    try {
      const env = Deno.env.toObject();
      delete env.SSH_AUTH_SOCK;
      // Until Ctrl-C ("0" seconds): over SSH the first list takes a
      // connection per API call, however long the machine's load makes it.
      await using example = new ChildLines(
        new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            new URL("../../examples/two_hosts.ts", import.meta.url).pathname,
            "0",
            rig.dockerSocket,
            sshd.url,
          ],
          clearEnv: true,
          env: {
            ...env,
            DENO_DIR: env.DENO_DIR ?? `${env.HOME}/.cache/deno`,
            HOME: home,
          },
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }),
      );
      const seen = () =>
        expected.filter((e) => example.lines.some((l) => l.startsWith(e)));
      // Lines are read as they come (the loops end with the child).
      const reading = Promise.all([
        (async () => {
          while (true) await example.next();
        })().catch(() => {}),
        (async () => {
          while (true) await example.nextErr();
        })().catch(() => {}),
      ]);
      await waitFor(() => seen().length === expected.length, {
        timeoutMs: 60_000,
        what: () =>
          `the example's lines ${JSON.stringify(expected)}; it printed ${
            JSON.stringify(example.lines)
          } and on stderr ${JSON.stringify(example.errLines)}`,
      });
      assertEquals(await example.interrupt(), 0, example.errLines.join("\n"));
      await reading;
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
);
