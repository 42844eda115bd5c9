// Docker endpoint parsing: socket paths, unix:// and tcp:// URLs, TLS from
// DOCKER_CERT_PATH / DOCKER_TLS_VERIFY, DOCKER_HOST. Pure: no engine.
import { assertEquals, assertThrows } from "../_assert.ts";
import {
  DEFAULT_DOCKER_ENDPOINT,
  parseDockerEndpoint,
} from "../../adapters/docker/endpoint.ts";

const VARS = ["DOCKER_HOST", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"];

/** Runs `fn` with exactly `vars` of the Docker variables set. */
async function withEnv(
  vars: Record<string, string>,
  fn: () => void | Promise<void>,
): Promise<void> {
  const saved = new Map(VARS.map((v) => [v, Deno.env.get(v)]));
  try {
    for (const v of VARS) Deno.env.delete(v);
    for (const [k, v] of Object.entries(vars)) Deno.env.set(k, v);
    await fn();
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
}

Deno.test("docker endpoint: socket paths and unix:// URLs", async () => {
  await withEnv({}, () => {
    assertEquals(parseDockerEndpoint("/tmp/x/docker.sock"), {
      api: "/tmp/x/docker.sock",
      socketPath: "/tmp/x/docker.sock",
    });
    assertEquals(parseDockerEndpoint("unix:///run/podman/podman.sock"), {
      api: "/run/podman/podman.sock",
      socketPath: "/run/podman/podman.sock",
    });
    assertThrows(
      () => parseDockerEndpoint("unix://relative.sock"),
      { name: "TypeError", message: /unix:\/\/relative\.sock/ },
    );
  });
});

Deno.test("docker endpoint: none given → DOCKER_HOST, else the default socket", async () => {
  await withEnv({}, () => {
    assertEquals(parseDockerEndpoint().socketPath, DEFAULT_DOCKER_ENDPOINT);
  });
  await withEnv({ DOCKER_HOST: "unix:///srv/d.sock" }, () => {
    assertEquals(parseDockerEndpoint().socketPath, "/srv/d.sock");
    // An explicit endpoint wins over DOCKER_HOST.
    assertEquals(parseDockerEndpoint("/a.sock").socketPath, "/a.sock");
  });
  await withEnv({ DOCKER_HOST: "tcp://10.1.2.3:2375" }, () => {
    const ep = parseDockerEndpoint();
    assertEquals([ep.host, ep.port, ep.protocol], ["10.1.2.3", 2375, "http"]);
  });
});

Deno.test("docker endpoint: tcp:// is plain HTTP unless TLS is asked for", async () => {
  await withEnv({}, () => {
    assertEquals(parseDockerEndpoint("tcp://127.0.0.1:2375"), {
      api: "tcp://127.0.0.1:2375",
      host: "127.0.0.1",
      port: 2375,
      protocol: "http",
    });
    assertEquals(parseDockerEndpoint("tcp://localhost").port, 2375);
  });
  await withEnv({ DOCKER_TLS_VERIFY: "0" }, () => {
    assertEquals(parseDockerEndpoint("tcp://h:1").protocol, "http");
  });
  await withEnv({ DOCKER_TLS_VERIFY: "1" }, () => {
    const ep = parseDockerEndpoint("tcp://h");
    assertEquals([ep.protocol, ep.port, ep.ca], ["https", 2376, undefined]);
  });
});

Deno.test("docker endpoint: TLS material comes from DOCKER_CERT_PATH", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ww-docker-certs-" });
  try {
    for (const f of ["ca", "cert", "key"]) {
      await Deno.writeTextFile(`${dir}/${f}.pem`, `${f} pem`);
    }
    await withEnv({ DOCKER_CERT_PATH: dir, DOCKER_TLS_VERIFY: "1" }, () => {
      const ep = parseDockerEndpoint("tcp://127.0.0.1:2376");
      assertEquals(ep.protocol, "https");
      assertEquals([ep.ca, ep.cert, ep.key], ["ca pem", "cert pem", "key pem"]);
    });
    await Deno.remove(`${dir}/key.pem`);
    await withEnv({ DOCKER_CERT_PATH: dir, DOCKER_TLS_VERIFY: "1" }, () => {
      // The error names the missing file and the endpoint.
      assertThrows(
        () => parseDockerEndpoint("tcp://127.0.0.1:2376"),
        (err: Error) => err.message.includes(`${dir}/key.pem`),
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("docker endpoint: unsupported schemes are refused, naming the input", async () => {
  await withEnv({}, () => {
    for (const bad of ["npipe:////./pipe/docker", "docker", "ssh://"]) {
      assertThrows(
        () => parseDockerEndpoint(bad),
        (err: Error) => err instanceof TypeError && err.message.includes(bad),
      );
    }
  });
});

Deno.test("docker endpoint: ssh:// as the docker CLI writes it, and podman's with a socket path", async () => {
  await withEnv({}, () => {
    assertEquals(parseDockerEndpoint("ssh://me@build-1"), {
      api: "ssh://me@build-1",
      protocol: "ssh",
      host: "build-1",
      port: 22,
      user: "me",
    });
    assertEquals(parseDockerEndpoint("ssh://me@10.0.0.5:2222").port, 2222);
    assertEquals(parseDockerEndpoint("ssh://me@[::1]:2222").host, "::1");
    const podman = parseDockerEndpoint(
      "ssh://core@127.0.0.1:50123/run/user/1000/podman/podman.sock?secure=True",
    );
    assertEquals(
      [podman.user, podman.port, podman.remoteSocket],
      ["core", 50123, "/run/user/1000/podman/podman.sock"],
    );
  });
});

Deno.test("docker endpoint: given TLS settings win over the environment", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ww-docker-certs-" });
  try {
    for (const f of ["ca", "cert", "key"]) {
      await Deno.writeTextFile(`${dir}/${f}.pem`, `${f} from dir`);
    }
    await withEnv(
      { DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: "/nowhere" },
      () => {
        // false: plain, whatever the environment says (a context without TLS).
        const plain = parseDockerEndpoint("tcp://h:2376", { tls: false });
        assertEquals([plain.protocol, plain.ca], ["http", undefined]);
        const given = parseDockerEndpoint("tcp://h:2376", {
          tls: { certPath: dir, ca: "given ca" },
        });
        assertEquals(
          [given.protocol, given.ca, given.cert, given.key, given.verify],
          ["https", "given ca", "cert from dir", "key from dir", undefined],
        );
        const skip = parseDockerEndpoint("tcp://h", { tls: { verify: false } });
        assertEquals([skip.protocol, skip.port, skip.verify], [
          "https",
          2376,
          false,
        ]);
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
