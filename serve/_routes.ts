// The agent's routes (internal): method, host and token checks, then one
// handler per path. Every refusal is a JSON error with the reason.
import type { Fleet } from "../mod.ts";
import { bearerToken, constantTimeEquals, isLoopbackHost } from "./_auth.ts";
import { health } from "./_health.ts";
import type { Hub } from "./_hub.ts";
import {
  COMMON_HEADERS,
  errorResponse,
  HttpError,
  jsonResponse,
} from "./_http.ts";
import { METRICS_CONTENT_TYPE, renderMetrics } from "./_metrics.ts";
import { PAGE_HTML } from "./_page.ts";
import { parseFilters } from "./_query.ts";

/** What the routes need. */
export interface RouteContext {
  fleet: Fleet;
  hub: Hub;
  /** The bearer token; none: no token is asked. */
  token?: string;
  /** Refuse Host headers other than loopback (a tokenless TCP agent). */
  checkHost: boolean;
  /** The page's Content-Security-Policy. */
  csp: string;
  /** Whether the fleet's first discovery and syncs are over. */
  settled: () => boolean;
  /** When the agent started (ms since the epoch). */
  startTime: number;
}

/** Longest request target the agent reads. */
export const MAX_URL_LENGTH = 4096;

const ROUTES = ["/", "/containers", "/events", "/metrics", "/healthz"];
const READ_ONLY = { allow: "GET, HEAD" };
const CHALLENGE = { "www-authenticate": 'Bearer realm="whalewatcher"' };

/** Answers one request; never throws for a bad request. */
export function handle(ctx: RouteContext, req: Request): Response {
  let res: Response;
  try {
    res = route(ctx, req);
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    res = errorResponse(err);
  }
  if (req.method === "HEAD" && res.body) {
    res.body.cancel().catch(() => {});
    return new Response(null, { status: res.status, headers: res.headers });
  }
  return res;
}

function route(ctx: RouteContext, req: Request): Response {
  if (req.method !== "GET" && req.method !== "HEAD") {
    throw new HttpError(
      405,
      `method ${
        req.method.slice(0, 32)
      } is not allowed: the agent is read-only (GET and HEAD)`,
      READ_ONLY,
    );
  }
  if (req.url.length > MAX_URL_LENGTH) {
    throw new HttpError(
      414,
      `the request target is longer than ${MAX_URL_LENGTH} characters`,
    );
  }
  if (ctx.checkHost && !isLoopbackHost(req.headers.get("host"))) {
    throw new HttpError(
      403,
      `host "${
        (req.headers.get("host") ?? "").slice(0, 64)
      }" is not this agent's: without a token it answers only to localhost, 127.0.0.1 and [::1]`,
    );
  }
  const url = new URL(req.url);
  const path = url.pathname;
  // Health carries no container data; the page is static (its data comes
  // from /events, which asks for the token).
  if (path === "/healthz") {
    const h = health(ctx.fleet, ctx.hub, ctx.settled());
    return jsonResponse(h.ok ? 200 : 503, h.body);
  }
  if (path === "/") return page(ctx);
  authorize(ctx, req, url, path === "/events");
  switch (path) {
    case "/containers":
      return jsonResponse(
        200,
        ctx.hub.snapshot(parseFilters(url.searchParams)),
      );
    case "/events":
      return events(ctx, req, url);
    case "/metrics":
      if ([...url.searchParams.keys()].length > 0) {
        throw new HttpError(400, "/metrics takes no query parameters");
      }
      return new Response(
        renderMetrics(ctx.fleet, ctx.hub, {
          now: Date.now(),
          startTime: ctx.startTime,
        }),
        {
          headers: { ...COMMON_HEADERS, "content-type": METRICS_CONTENT_TYPE },
        },
      );
  }
  throw new HttpError(
    404,
    `no route ${path.slice(0, 128)} (routes: ${ROUTES.join(", ")})`,
  );
}

function authorize(
  ctx: RouteContext,
  req: Request,
  url: URL,
  queryToken: boolean,
): void {
  if (ctx.token === undefined) return;
  const given = bearerToken(req.headers) ??
    (queryToken ? url.searchParams.get("token") ?? undefined : undefined);
  if (given === undefined) {
    const hint = url.searchParams.has("token")
      ? "; the token query parameter is accepted on /events only"
      : "";
    throw new HttpError(
      401,
      `this agent needs a bearer token (Authorization: Bearer …)${hint}`,
      CHALLENGE,
    );
  }
  if (!constantTimeEquals(given, ctx.token)) {
    throw new HttpError(401, "wrong bearer token", CHALLENGE);
  }
}

function page(ctx: RouteContext): Response {
  return new Response(PAGE_HTML, {
    headers: {
      ...COMMON_HEADERS,
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": ctx.csp,
      "x-frame-options": "DENY",
    },
  });
}

function events(ctx: RouteContext, req: Request, url: URL): Response {
  const filters = parseFilters(url.searchParams, ["token"]);
  const headers = {
    ...COMMON_HEADERS,
    "content-type": "text/event-stream; charset=utf-8",
    // Tells nginx-like proxies not to buffer the stream.
    "x-accel-buffering": "no",
  };
  if (ctx.hub.failure !== undefined) {
    throw new HttpError(503, "the agent stopped following the fleet");
  }
  if (req.method === "HEAD") {
    if (ctx.hub.clients >= ctx.hub.maxClients) throw tooMany(ctx);
    return new Response(null, { headers });
  }
  const client = ctx.hub.connect(req.headers.get("last-event-id"), filters);
  if (!client) throw tooMany(ctx);
  return new Response(client.body, { headers });
}

function tooMany(ctx: RouteContext): HttpError {
  return new HttpError(
    503,
    `too many /events clients (the limit is ${ctx.hub.maxClients})`,
    { "retry-after": "5" },
  );
}
