// Raw HTTP/1.1 over TCP or a unix socket, for requests fetch cannot make
// (unix sockets, malformed requests, wrong Host headers) and for answers
// read byte by byte.

/** Where to connect. */
export type RawTarget =
  | { hostname: string; port: number }
  | { path: string };

/** A parsed response. */
export interface RawResponse {
  status: number;
  headers: Headers;
  body: string;
}

/** Connects to `target`. */
export function connect(target: RawTarget): Promise<Deno.Conn> {
  return "path" in target
    ? Deno.connect({ transport: "unix", path: target.path })
    : Deno.connect({ hostname: target.hostname, port: target.port });
}

/** The target of an agent URL (`http://host:port/` or `unix:/path`). */
export function targetOf(url: string): RawTarget {
  if (url.startsWith("unix:")) return { path: url.slice(5) };
  const u = new URL(url);
  return { hostname: u.hostname.replace(/^\[|\]$/g, ""), port: Number(u.port) };
}

/**
 * Writes `request` and reads until the server closes the connection (or
 * `timeoutMs` passes: then what was read so far); returns the raw text.
 */
export async function exchange(
  target: RawTarget,
  request: Uint8Array | string,
  options: { timeoutMs?: number } = {},
): Promise<string> {
  const conn = await connect(target);
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* closed already */ }
  }, options.timeoutMs ?? 10_000);
  const chunks: Uint8Array[] = [];
  try {
    await conn.write(
      typeof request === "string" ? new TextEncoder().encode(request) : request,
    ).catch(() => 0);
    const buf = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
  return new TextDecoder().decode(
    chunks.reduce((a, b) => {
      const out = new Uint8Array(a.length + b.length);
      out.set(a);
      out.set(b, a.length);
      return out;
    }, new Uint8Array()),
  );
}

/** Parses one HTTP/1.1 response (Content-Length or chunked body). */
export function parseResponse(text: string): RawResponse {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) {
    throw new Error(
      `no complete response head in ${JSON.stringify(text.slice(0, 200))}`,
    );
  }
  const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
  const status = Number(statusLine.split(" ")[1]);
  const headers = new Headers();
  for (const line of lines) {
    const i = line.indexOf(":");
    headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  let rest = text.slice(end + 4);
  let body = "";
  if (headers.get("transfer-encoding")?.includes("chunked")) {
    while (true) {
      const nl = rest.indexOf("\r\n");
      const size = parseInt(rest.slice(0, nl), 16);
      if (!(size > 0)) break;
      body += rest.slice(nl + 2, nl + 2 + size);
      rest = rest.slice(nl + 2 + size + 2);
    }
  } else {
    const length = Number(headers.get("content-length") ?? rest.length);
    body = rest.slice(0, length);
  }
  return { status, headers, body };
}

/** A GET (or other method) with `Connection: close`, parsed. */
export async function request(
  target: RawTarget,
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const headers = {
    host: "localhost",
    ...options.headers,
    connection: "close",
  };
  const head = `${options.method ?? "GET"} ${path} HTTP/1.1\r\n${
    Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("")
  }\r\n`;
  return parseResponse(await exchange(target, head));
}
