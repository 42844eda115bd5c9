// Who may ask (internal): the bearer token, compared in constant time, and
// the Host header of requests to a loopback agent without a token (a web
// page elsewhere must not read it through DNS rebinding).

const encoder = new TextEncoder();

/**
 * Whether `given` equals `expected`, in a time that depends only on the
 * length of `expected` (not on where the first difference is).
 */
export function constantTimeEquals(given: string, expected: string): boolean {
  const a = encoder.encode(given);
  const b = encoder.encode(expected);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) {
    diff |= (a.length ? a[i % a.length] : 0) ^ b[i];
  }
  return diff === 0;
}

/** The token of an `Authorization: Bearer …` header, if there is one. */
export function bearerToken(headers: Headers): string | undefined {
  const value = headers.get("authorization");
  const m = value ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(value) : null;
  return m ? m[1] : undefined;
}

/** Whether a Host header names this machine's loopback (or is absent). */
export function isLoopbackHost(host: string | null): boolean {
  if (host === null || host === "") return true;
  const name = host.startsWith("[")
    ? host.slice(1, host.indexOf("]"))
    : host.replace(/:\d*$/, "");
  const h = name.toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}
