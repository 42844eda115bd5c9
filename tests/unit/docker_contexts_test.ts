// Docker contexts and podman connections on a made-up HOME, as the docker
// CLI and podman store them; and as discovery candidates through the
// Docker adaptor's configured endpoints. No engine.
import { assertEquals, assertRejects } from "../_assert.ts";
import {
  contextTls,
  currentDockerContext,
  dockerAdapter,
  parseServiceDestinations,
  readDockerContexts,
  readPodmanConnections,
} from "../../docker.ts";
import { EngineRegistry } from "../../engineclient/mod.ts";
import { engineCandidates } from "../../watcher/discovery/mod.ts";

async function sha256Hex(text: string): Promise<string> {
  const d = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(text),
  );
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** Writes a context as `docker context create` does. */
async function writeContext(
  home: string,
  name: string,
  host: string,
  options: { skipTls?: boolean; tls?: Record<string, string> } = {},
) {
  const id = await sha256Hex(name);
  const meta = `${home}/.docker/contexts/meta/${id}`;
  await Deno.mkdir(meta, { recursive: true });
  await Deno.writeTextFile(
    `${meta}/meta.json`,
    JSON.stringify({
      Name: name,
      Metadata: { Description: `the ${name} host` },
      Endpoints: {
        docker: { Host: host, SkipTLSVerify: options.skipTls ?? false },
      },
    }),
  );
  if (options.tls) {
    const dir = `${home}/.docker/contexts/tls/${id}/docker`;
    await Deno.mkdir(dir, { recursive: true });
    for (const [f, text] of Object.entries(options.tls)) {
      await Deno.writeTextFile(`${dir}/${f}.pem`, text);
    }
  }
}

async function madeUpHome(): Promise<string> {
  const home = await Deno.makeTempDir({ prefix: "ww-home-" });
  await writeContext(home, "tls-host", "tcp://10.0.0.5:2376", {
    tls: { ca: "CA", cert: "CERT", key: "KEY" },
  });
  await writeContext(home, "ssh-host", "ssh://me@build-1");
  await writeContext(home, "plain", "tcp://10.0.0.6:2375");
  await writeContext(home, "insecure", "tcp://10.0.0.7:2376", {
    skipTls: true,
  });
  await Deno.writeTextFile(
    `${home}/.docker/config.json`,
    JSON.stringify({ auths: {}, currentContext: "ssh-host" }),
  );
  const podman = `${home}/.config/containers`;
  await Deno.mkdir(podman, { recursive: true });
  await Deno.writeTextFile(
    `${podman}/podman-connections.json`,
    JSON.stringify({
      Connection: {
        Default: "machine",
        Connections: {
          machine: {
            URI: "ssh://core@127.0.0.1:50123/run/user/1000/podman/podman.sock",
            Identity: `${home}/.ssh/machine`,
            IsMachine: true,
          },
          local: { URI: "unix:///run/user/1000/podman/podman.sock" },
        },
      },
      Farm: {},
    }),
  );
  await Deno.writeTextFile(
    `${podman}/containers.conf`,
    [
      "[engine]",
      'active_service = "old"',
      "",
      "[engine.service_destinations]",
      "  [engine.service_destinations.old]",
      '  uri = "ssh://admin@old-host:2222/run/podman/podman.sock" # comment',
      "  identity = '/home/me/.ssh/old'",
      '  [engine.service_destinations."machine"]',
      '  uri = "ssh://shadowed@nowhere/run/podman.sock"',
      "",
    ].join("\n"),
  );
  return home;
}

const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("docker contexts: the current one as the docker CLI resolves it", async () => {
  const home = await madeUpHome();
  try {
    assertEquals(await currentDockerContext(envOf({ HOME: home })), "ssh-host");
    assertEquals(
      await currentDockerContext(
        envOf({ HOME: home, DOCKER_CONTEXT: "plain" }),
      ),
      "plain",
    );
    // DOCKER_HOST wins over every context: the default one.
    assertEquals(
      await currentDockerContext(
        envOf({
          HOME: home,
          DOCKER_CONTEXT: "plain",
          DOCKER_HOST: "tcp://x:1",
        }),
      ),
      "default",
    );
    // DOCKER_CONFIG moves the folder.
    assertEquals(
      await currentDockerContext(envOf({ DOCKER_CONFIG: `${home}/nowhere` })),
      "default",
    );
    await Deno.writeTextFile(`${home}/.docker/config.json`, "{ not json");
    await assertRejects(
      () => currentDockerContext(envOf({ HOME: home })),
      (err: Error) => err.message.includes(`${home}/.docker/config.json`),
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("docker contexts: endpoints and TLS material from the store", async () => {
  const home = await madeUpHome();
  try {
    const env = envOf({ HOME: home });
    const { current, contexts, configDir } = await readDockerContexts({ env });
    assertEquals([current, configDir], ["ssh-host", `${home}/.docker`]);
    assertEquals(
      contexts.map((c) => [c.name, c.host]),
      [
        ["default", "unix:///var/run/docker.sock"],
        ["insecure", "tcp://10.0.0.7:2376"],
        ["plain", "tcp://10.0.0.6:2375"],
        ["ssh-host", "ssh://me@build-1"],
        ["tls-host", "tcp://10.0.0.5:2376"],
      ],
    );
    const byName = new Map(contexts.map((c) => [c.name, c]));
    assertEquals(byName.get("tls-host")!.tls, {
      ca: "CA",
      cert: "CERT",
      key: "KEY",
    });
    assertEquals(byName.get("tls-host")!.description, "the tls-host host");
    assertEquals(contextTls(byName.get("tls-host")!), {
      ca: "CA",
      cert: "CERT",
      key: "KEY",
    });
    assertEquals(contextTls(byName.get("plain")!), false);
    assertEquals(contextTls(byName.get("insecure")!), { verify: false });
    // By name: only those, found by the hash of the name; unknown ones left out.
    const some = await readDockerContexts({ env, names: ["plain", "nope"] });
    assertEquals(some.contexts.map((c) => c.name), ["plain"]);
    // The default context is DOCKER_HOST when set.
    const dflt = await readDockerContexts({
      env: envOf({ HOME: home, DOCKER_HOST: "tcp://1.2.3.4:2375" }),
      names: ["default"],
    });
    assertEquals(dflt.contexts.map((c) => c.host), ["tcp://1.2.3.4:2375"]);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("podman connections: podman-connections.json, then containers.conf", async () => {
  const home = await madeUpHome();
  try {
    const { connections, files } = await readPodmanConnections({
      env: envOf({ HOME: home }),
    });
    assertEquals(files.length, 2);
    assertEquals(
      connections.map((c) => [c.name, c.uri, c.identity, c.default]),
      [
        ["local", "unix:///run/user/1000/podman/podman.sock", undefined, false],
        [
          "machine",
          "ssh://core@127.0.0.1:50123/run/user/1000/podman/podman.sock",
          `${home}/.ssh/machine`,
          true,
        ],
        [
          "old",
          "ssh://admin@old-host:2222/run/podman/podman.sock",
          "/home/me/.ssh/old",
          false,
        ],
      ],
    );
    const chosen = await readPodmanConnections({
      env: envOf({ HOME: home, CONTAINER_CONNECTION: "old" }),
    });
    assertEquals(chosen.connections.find((c) => c.default)?.name, "old");
    // XDG_CONFIG_HOME moves the folder.
    const none = await readPodmanConnections({
      env: envOf({ HOME: home, XDG_CONFIG_HOME: `${home}/elsewhere` }),
    });
    assertEquals(none, { connections: [], files: [] });
    assertEquals(
      parseServiceDestinations('[engine]\nactive_service="a"\n').active,
      "a",
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("discovery: the current context and podman's default connection are candidates, with their options", async () => {
  const home = await madeUpHome();
  const registry = new EngineRegistry();
  registry.register(dockerAdapter);
  try {
    const base = { registry, procRoot: `${home}/no-proc` };
    const current = await engineCandidates({
      ...base,
      env: envOf({ HOME: home, DOCKER_CONTEXT: "tls-host" }),
    });
    const config = current.filter((c) => c.source === "config");
    assertEquals(
      config.map((c) => [c.endpoint, c.name, c.types]),
      [
        ["tcp://10.0.0.5:2376", 'docker context "tls-host"', ["docker.com"]],
        [
          "ssh://core@127.0.0.1:50123/run/user/1000/podman/podman.sock",
          'podman connection "machine"',
          ["docker.com"],
        ],
      ],
    );
    assertEquals(config[0].options, {
      tls: { ca: "CA", cert: "CERT", key: "KEY" },
    });
    assertEquals(config[1].options, {
      ssh: { identityFile: `${home}/.ssh/machine` },
    });

    // Named contexts are explicit: nothing else is looked for.
    const warnings: string[] = [];
    const named = await engineCandidates({
      ...base,
      env: envOf({ HOME: home }),
      explicitOnly: true,
      contexts: ["plain", "local", "nope"],
      warnings,
    });
    assertEquals(named.map((c) => [c.source, c.endpoint]), [
      ["config", "tcp://10.0.0.6:2375"],
      ["config", "/run/user/1000/podman/podman.sock"],
    ]);
    assertEquals(named[0].options, { tls: false });
    assertEquals(warnings.length, 1);
    assertEquals(warnings[0].includes('"nope"'), true);

    const all = await engineCandidates({
      ...base,
      env: envOf({ HOME: home }),
      explicitOnly: true,
      contexts: ["all"],
    });
    assertEquals(all.length, 5 + 3);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
