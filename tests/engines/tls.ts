// Test certificates made with openssl: a CA, a server certificate for
// 127.0.0.1 and localhost signed by it, a client certificate signed by it,
// and a second, unrelated CA (to be "the wrong CA"). Files are named like
// Docker's: ca.pem, cert.pem, key.pem.

/** A folder of PEM files. */
export interface CertSet {
  /** The folder: `ca.pem`, `cert.pem`, `key.pem` (a `DOCKER_CERT_PATH`). */
  dir: string;
  /** `ca.pem`'s text. */
  ca: string;
  /** `cert.pem`'s text. */
  cert: string;
  /** `key.pem`'s text. */
  key: string;
}

/** Certificates for a TLS dockerd and its clients. */
export interface TestCerts {
  /** The server's: its CA, certificate and key (for dockerd's --tls* flags). */
  server: CertSet;
  /** A client's: the same CA, a client certificate and key. */
  client: CertSet;
  /** A client that trusts another CA (and has its own client certificate from it). */
  wrongCa: CertSet;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { PATH: "/usr/bin:/bin" },
  }).output();
  if (!out.success) {
    throw new Error(
      `openssl ${args.join(" ")} failed: ${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
}

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
    "-keyout",
    `${name}-key.pem`,
    "-out",
    `${name}.pem`,
  ], dir);
}

async function signed(
  dir: string,
  ca: string,
  name: string,
  ext: string,
): Promise<void> {
  await Deno.writeTextFile(`${dir}/${name}.ext`, ext);
  await openssl([
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-subj",
    `/CN=${name}`,
    "-keyout",
    `${name}-key.pem`,
    "-out",
    `${name}.csr`,
  ], dir);
  await openssl([
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}-key.pem`,
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.pem`,
  ], dir);
}

async function certSet(
  work: string,
  dir: string,
  files: { ca: string; cert: string; key: string },
): Promise<CertSet> {
  await Deno.mkdir(dir, { recursive: true });
  const set: Record<string, string> = {};
  for (const [as, from] of Object.entries(files)) {
    const text = await Deno.readTextFile(`${work}/${from}`);
    await Deno.writeTextFile(`${dir}/${as}.pem`, text, { mode: 0o600 });
    set[as] = text;
  }
  return { dir, ca: set.ca, cert: set.cert, key: set.key };
}

/** Makes the certificates under `dir` (which must exist). */
export async function makeTestCerts(dir: string): Promise<TestCerts> {
  const work = `${dir}/work`;
  await Deno.mkdir(work, { recursive: true });
  await makeCa(work, "ca");
  await makeCa(work, "other-ca");
  await signed(
    work,
    "ca",
    "server",
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
  );
  await signed(work, "ca", "client", "extendedKeyUsage=clientAuth\n");
  await signed(
    work,
    "other-ca",
    "other-client",
    "extendedKeyUsage=clientAuth\n",
  );
  return {
    server: await certSet(work, `${dir}/server`, {
      ca: "ca.pem",
      cert: "server.pem",
      key: "server-key.pem",
    }),
    client: await certSet(work, `${dir}/client`, {
      ca: "ca.pem",
      cert: "client.pem",
      key: "client-key.pem",
    }),
    wrongCa: await certSet(work, `${dir}/wrong-ca`, {
      ca: "other-ca.pem",
      cert: "other-client.pem",
      key: "other-client-key.pem",
    }),
  };
}
