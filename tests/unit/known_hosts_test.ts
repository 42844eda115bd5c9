// known_hosts matching as OpenSSH does: plain, [host]:port, hashed and
// wildcard names, negations, @revoked, and the verdicts unknown / changed.
import { assertEquals } from "../_assert.ts";
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import {
  checkHostKey,
  fingerprint,
  hostMatches,
  keyTypeOf,
  knownHostName,
  knownKeys,
  preferredHostKeyAlgorithms,
} from "../../adapters/docker/_known_hosts.ts";

/** An SSH public key blob of `type` with some key bytes. */
function blob(type: string, fill: number): Uint8Array {
  const t = new TextEncoder().encode(type);
  const out = new Uint8Array(4 + t.length + 4 + 32);
  const view = new DataView(out.buffer);
  view.setUint32(0, t.length);
  out.set(t, 4);
  view.setUint32(4 + t.length, 32);
  out.fill(fill, 8 + t.length);
  return out;
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

function hashed(name: string): string {
  const salt = Buffer.alloc(20, 7);
  const mac = createHmac("sha1", salt).update(name).digest("base64");
  return `|1|${salt.toString("base64")}|${mac}`;
}

Deno.test("known_hosts: names with and without port, hashed, wildcards, negations", () => {
  assertEquals(knownHostName("build-1", 22), "build-1");
  assertEquals(knownHostName("127.0.0.1", 2222), "[127.0.0.1]:2222");
  assert3(hostMatches("build-1,10.0.0.5", "10.0.0.5"), true);
  assert3(hostMatches("build-1", "build-2"), false);
  assert3(hostMatches("[127.0.0.1]:2222", "[127.0.0.1]:2222"), true);
  // The same host on another port is another name.
  assert3(hostMatches("[127.0.0.1]:2222", "[127.0.0.1]:2223"), false);
  assert3(hostMatches("127.0.0.1", "[127.0.0.1]:2222"), false);
  assert3(hostMatches(hashed("[127.0.0.1]:2222"), "[127.0.0.1]:2222"), true);
  assert3(hostMatches(hashed("[127.0.0.1]:2222"), "[127.0.0.1]:2223"), false);
  assert3(hostMatches("*.lan", "build-1.lan"), true);
  assert3(hostMatches("build-?.lan", "build-1.lan"), true);
  assert3(hostMatches("*.lan,!evil.lan", "evil.lan"), false);
  assert3(hostMatches("*.lan", "build-1.lan.example"), false);
});

function assert3(actual: boolean, expected: boolean) {
  assertEquals(actual, expected);
}

Deno.test("known_hosts: verdicts on an offered key", () => {
  const ed = blob("ssh-ed25519", 1);
  const otherEd = blob("ssh-ed25519", 2);
  const ecdsa = blob("ecdsa-sha2-nistp256", 3);
  const name = "[127.0.0.1]:2222";
  const text = [
    "# comment",
    "",
    `otherhost ssh-ed25519 ${b64(otherEd)}`,
    `${hashed(name)} ssh-ed25519 ${b64(ed)} me@laptop`,
    `@cert-authority *.lan ssh-ed25519 ${b64(otherEd)}`,
    "garbage",
  ].join("\n");
  const known = knownKeys(text, name);
  assertEquals(known.map((k) => [k.type, k.line]), [["ssh-ed25519", 4]]);
  assertEquals(checkHostKey(known, ed), { ok: true });
  // Another key of a type on record: changed, naming the line.
  assertEquals(checkHostKey(known, otherEd), {
    ok: false,
    reason: "changed-key",
    detail: "line 4",
  });
  // Only a type not on record: unknown (OpenSSH asks first; we refuse).
  assertEquals(checkHostKey(known, ecdsa).ok, false);
  assertEquals(
    (checkHostKey(known, ecdsa) as { reason: string }).reason,
    "unknown-host",
  );
  assertEquals(checkHostKey(knownKeys(text, "nobody"), ed), {
    ok: false,
    reason: "unknown-host",
  });
  const revoked = knownKeys(`@revoked * ssh-ed25519 ${b64(ed)}\n` + text, name);
  assertEquals(checkHostKey(revoked, ed), { ok: false, reason: "revoked-key" });
});

Deno.test("known_hosts: key type, fingerprint, recorded types offered first", () => {
  const ed = blob("ssh-ed25519", 1);
  assertEquals(keyTypeOf(ed), "ssh-ed25519");
  // OpenSSH's format: SHA256: and unpadded base64 of the blob's digest.
  const fp = fingerprint(ed);
  assertEquals(fp.startsWith("SHA256:") && !fp.endsWith("="), true);
  assertEquals(fp.length, "SHA256:".length + 43);
  const all = ["ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512", "ssh-rsa"];
  assertEquals(
    preferredHostKeyAlgorithms(
      [{ type: "ssh-rsa", key: "x", line: 1, revoked: false }],
      all,
    ),
    ["rsa-sha2-512", "ssh-rsa", "ssh-ed25519", "ecdsa-sha2-nistp256"],
  );
  assertEquals(preferredHostKeyAlgorithms([], all), all);
});
