// Responses (internal): JSON documents and JSON errors with the reason, and
// the headers every response carries.

/** A request the agent refuses, with the status and the reason. */
export class HttpError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** Extra response headers (`Allow`, `WWW-Authenticate`, `Retry-After`). */
  readonly headers: Record<string, string>;
  constructor(
    status: number,
    message: string,
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.headers = headers;
  }
}

/** Headers of every response. */
export const COMMON_HEADERS: Readonly<Record<string, string>> = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/** A JSON response. */
export function jsonResponse(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: {
      ...COMMON_HEADERS,
      "content-type": "application/json; charset=utf-8",
      ...headers,
    },
  });
}

/** The JSON error `{ "error": "…" }` of an {@linkcode HttpError}. */
export function errorResponse(err: HttpError): Response {
  return jsonResponse(err.status, { error: err.message }, err.headers);
}
