// OpenSSH known_hosts files (internal): which keys are recorded for a
// host, hashed names included, so that SSH connections check host keys as
// OpenSSH does (ssh2 itself never reads known_hosts).
import { createHash, createHmac } from "node:crypto";
import { Buffer } from "node:buffer";

/** One key line of a known_hosts file that names the host. */
export interface KnownKey {
  /** Key type, such as `ssh-ed25519`. */
  type: string;
  /** The key blob, base64. */
  key: string;
  /** 1-based line number. */
  line: number;
  /** `@revoked` lines. */
  revoked: boolean;
}

/** How known_hosts names a host: `host`, or `[host]:port` off port 22. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function wildcard(pattern: string, name: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${re}$`, "i").test(name);
}

function hashedMatch(entry: string, name: string): boolean {
  // |1|base64(salt)|base64(HMAC-SHA1(salt, name))
  const [, kind, salt, hash] = entry.split("|");
  if (kind !== "1" || !salt || !hash) return false;
  const mac = createHmac("sha1", Buffer.from(salt, "base64")).update(name)
    .digest("base64");
  return mac === hash;
}

/** Whether a comma-separated host pattern list names `name` (negations win). */
export function hostMatches(patterns: string, name: string): boolean {
  let matched = false;
  for (const p of patterns.split(",")) {
    if (p.startsWith("|")) {
      if (hashedMatch(p, name)) matched = true;
    } else if (p.startsWith("!")) {
      if (wildcard(p.slice(1), name)) return false;
    } else if (wildcard(p, name)) matched = true;
  }
  return matched;
}

/** The keys a known_hosts text records for `name` (`@cert-authority` lines are left out). */
export function knownKeys(text: string, name: string): KnownKey[] {
  const keys: KnownKey[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const fields = lines[i].trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith("#")) continue;
    let revoked = false;
    if (fields[0].startsWith("@")) {
      if (fields[0] !== "@revoked") continue; // @cert-authority: no CA support
      revoked = true;
      fields.shift();
    }
    const [patterns, type, key] = fields;
    if (!patterns || !type || !key) continue;
    if (hostMatches(patterns, name)) {
      keys.push({ type, key, line: i + 1, revoked });
    }
  }
  return keys;
}

/** The type named inside an SSH public key blob. */
export function keyTypeOf(blob: Uint8Array): string {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  if (blob.byteLength < 4) return "";
  const len = view.getUint32(0);
  return new TextDecoder().decode(blob.subarray(4, 4 + len));
}

/** OpenSSH's fingerprint of a key blob: `SHA256:` and unpadded base64. */
export function fingerprint(blob: Uint8Array): string {
  return "SHA256:" +
    createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

/** The verdict on an offered host key. */
export type HostKeyVerdict =
  | { ok: true }
  | {
    ok: false;
    reason: "unknown-host" | "changed-key" | "revoked-key";
    detail?: string;
  };

/** Checks the offered key blob against the keys recorded for the host. */
export function checkHostKey(
  known: readonly KnownKey[],
  blob: Uint8Array,
): HostKeyVerdict {
  const offered = Buffer.from(blob).toString("base64");
  if (known.some((k) => k.revoked && k.key === offered)) {
    return { ok: false, reason: "revoked-key" };
  }
  const valid = known.filter((k) => !k.revoked);
  if (valid.some((k) => k.key === offered)) return { ok: true };
  const type = keyTypeOf(blob);
  const sameType = valid.find((k) => k.type === type);
  if (sameType) {
    return {
      ok: false,
      reason: "changed-key",
      detail: `line ${sameType.line}`,
    };
  }
  return { ok: false, reason: "unknown-host" };
}

// The server host key algorithms for a key type of known_hosts.
const ALGORITHMS: Record<string, string[]> = {
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
};

/**
 * The host key algorithms to offer, those of the recorded key types first
 * (as OpenSSH does): otherwise the server might pick a type we have no
 * record of, and a known host would look unknown.
 */
export function preferredHostKeyAlgorithms(
  known: readonly KnownKey[],
  all: readonly string[],
): string[] {
  const first: string[] = [];
  for (const k of known) {
    if (k.revoked) continue;
    for (const a of ALGORITHMS[k.type] ?? [k.type]) {
      if (all.includes(a) && !first.includes(a)) first.push(a);
    }
  }
  return [...first, ...all.filter((a) => !first.includes(a))];
}
