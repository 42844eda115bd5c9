// The Docker adaptor over TLS: a dockerd added to the rig, listening on
// 127.0.0.1 with --tlsverify and certificates made by the test. Right
// certificates (from DOCKER_CERT_PATH / DOCKER_TLS_VERIFY and as options)
// watch it; a wrong CA, a missing client certificate and a plain-HTTP
// client fail at once with typed errors naming the endpoint.
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { DockerClient, probeDocker, watchDocker } from "../../docker.ts";
import { EngineTlsError, type TlsFailure } from "../../engineclient/mod.ts";
import { discoverEngines } from "../../watcher/discovery/mod.ts";
import { AddedDockerd } from "../engines/docker.ts";
import { integrationTest, type Rig } from "../engines/rig.ts";
import { makeTestCerts, type TestCerts } from "../engines/tls.ts";
import { bounded } from "./_docker_cases.ts";
import { EventRecorder, watchReady } from "./_recorder.ts";

const TLS_VARS = ["DOCKER_HOST", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"];

async function withEnv<T>(
  vars: Record<string, string>,
  fn: () => Promise<T>,
): Promise<T> {
  const saved = TLS_VARS.map((k) => [k, Deno.env.get(k)] as const);
  try {
    for (const k of TLS_VARS) Deno.env.delete(k);
    for (const [k, v] of Object.entries(vars)) Deno.env.set(k, v);
    return await fn();
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
}

/** A TLS dockerd and its certificates, for one test. */
async function tlsHost(rig: Rig) {
  const dir = await Deno.makeTempDir({ dir: rig.dir, prefix: "certs-" });
  const certs: TestCerts = await makeTestCerts(dir);
  try {
    const host = await AddedDockerd.add("tls", { tls: certs.server });
    return {
      certs,
      host,
      url: host.tcpUrl!,
      async [Symbol.asyncDispose]() {
        await host[Symbol.asyncDispose]();
        await Deno.remove(dir, { recursive: true });
      },
    };
  } catch (err) {
    await Deno.remove(dir, { recursive: true });
    throw err;
  }
}

integrationTest(
  "docker over TLS: DOCKER_CERT_PATH/DOCKER_TLS_VERIFY and explicit options watch a --tlsverify dockerd",
  async (rig) => {
    await using tls = await tlsHost(rig);
    const { certs, host, url } = tls;
    // From the environment, as the docker CLI.
    await withEnv(
      { DOCKER_CERT_PATH: certs.client.dir, DOCKER_TLS_VERIFY: "1" },
      async () => {
        assertEquals((await probeDocker(url))?.type, "docker.com");
        await using watcher = watchDocker(url);
        await using _watch = await watchReady(watcher);
        await using rec = new EventRecorder(watcher);
        const id = await host.run();
        await rec.waitFor([id], 1);
        assertEquals(watcher.portfolio.container(id)?.pid, await host.pid(id));
        assertEquals(watcher.api, url);
        assertEquals(
          await watcher.id(),
          await host.docker("info", "-f", "{{.ID}}"),
        );
      },
    );
    // Explicit options, whatever the environment says: a folder, or PEM text.
    await withEnv(
      { DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/nowhere" },
      async () => {
        for (
          const tlsOptions of [
            { certPath: certs.client.dir },
            {
              ca: certs.client.ca,
              cert: certs.client.cert,
              key: certs.client.key,
            },
          ]
        ) {
          const client = new DockerClient(url, { tls: tlsOptions });
          try {
            assert((await client.list()) instanceof Array);
            await client.preflight();
          } finally {
            await client.close();
          }
          assertEquals(
            (await probeDocker(url, { tls: tlsOptions }))?.type,
            "docker.com",
          );
        }
      },
    );
  },
);

integrationTest(
  "docker over TLS: a wrong CA, no client certificate and plain HTTP fail ready at once with typed errors naming the endpoint; nothing is watched",
  async (rig) => {
    await using tls = await tlsHost(rig);
    const { certs, url } = tls;
    const cases: {
      what: string;
      options: ConstructorParameters<typeof DockerClient>[1];
      reason: TlsFailure;
    }[] = [
      {
        what: "wrong CA",
        options: { tls: { certPath: certs.wrongCa.dir } },
        reason: "untrusted-server",
      },
      {
        what: "no client certificate",
        options: { tls: { ca: certs.client.ca } },
        reason: "client-certificate-rejected",
      },
      {
        what: "plain HTTP",
        options: { tls: false },
        reason: "plain-http-to-tls",
      },
    ];
    await withEnv({}, async () => {
      for (const c of cases) {
        const isIt = (e: unknown) =>
          e instanceof EngineTlsError && e.reason === c.reason &&
          e.endpoint === url && e.message.includes(`"${url}"`);
        // Default backoff: a failure taken for transient would never settle.
        await using watcher = watchDocker(url, { engine: c.options });
        const watching = watcher.watch().catch((e) => e);
        const err = await bounded(
          watcher.ready.then(() => undefined, (e) => e),
          `ready to reject for ${c.what}`,
        );
        assert(isIt(err), `${c.what}: ${err}`);
        assertEquals(watcher.state, "failed");
        assertEquals(watcher.portfolio.size, 0);
        assertEquals(watcher.syncCount, 0);
        assert(isIt(await watching), `${c.what}: watch() ends with it`);
        const client = new DockerClient(url, c.options);
        try {
          await assertRejects(() => client.list(), (e: unknown) => isIt(e));
        } finally {
          await client.close();
        }
        const { engines, rejected } = await discoverEngines({
          endpoints: [{ endpoint: url, options: c.options }],
          explicitOnly: true,
        });
        assertEquals(engines, []);
        assertEquals(rejected.map((r) => r.reason), ["tls"]);
      }
    });
    // TLS spoken to a plain HTTP port: typed too.
    const plain = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response("OK", { headers: { "api-version": "1.41" } }),
    );
    try {
      const plainUrl = `tcp://127.0.0.1:${plain.addr.port}`;
      await assertRejects(
        () => probeDocker(plainUrl, { tls: { ca: certs.client.ca } }),
        (e: unknown) =>
          e instanceof EngineTlsError && e.reason === "tls-to-plain",
      );
    } finally {
      await plain.shutdown();
    }
  },
);
