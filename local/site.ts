import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, normalize, resolve, sep } from "node:path";
import { newRequestId } from "./api-gateway-events.ts";
import { readBody } from "./read-body.ts";
import type { LambdaHandler } from "./websocket-gateway.ts";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
};

/** HTTP API's own limit is 10 MB; the session handler itself answers 413 above 16 KiB. */
const MAX_REQUEST_BYTES = 1024 * 1024;

/** How the page signs in (PROTOCOL §1): guests, or an OpenID provider's issuer and the page's client id there. */
export type SiteAuth = { mode: "guest" } | { mode: "oidc"; issuer: string; clientId: string };

/** Where the page's config points: the WebSocket and the session endpoint, on the host the browser used. */
export function siteConfig(
  request: IncomingMessage,
  fallbackHost: string,
  auth: SiteAuth = { mode: "guest" },
): { wsUrl: string; sessionUrl: string; auth: SiteAuth } {
  const host = /^[A-Za-z0-9.[\]:-]+$/.test(request.headers.host ?? "")
    ? (request.headers.host as string)
    : fallbackHost;
  return { wsUrl: `ws://${host}/ws`, sessionUrl: `http://${host}/session`, auth };
}

/** The headers the site stack's CloudFront policy sets, so the page is tested locally under the same rules. */
export function securityHeaders(config: { wsUrl: string; sessionUrl: string }): Record<string, string> {
  const connect = ["'self'", config.wsUrl, new URL(config.sessionUrl).origin].join(" ");
  return {
    "content-security-policy": `default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src ${connect}; frame-ancestors 'none'; base-uri 'self'; form-action 'self'`,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
  };
}

function send(response: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer): void {
  response.writeHead(status, { ...headers, "content-length": Buffer.byteLength(body) });
  response.end(body);
}

/** Serves the built page from `webDir`, never a path outside it. */
export async function serveStatic(
  webDir: string,
  request: IncomingMessage,
  response: ServerResponse,
  headers: Record<string, string>,
): Promise<void> {
  const path = decodeURIComponent(new URL(request.url ?? "/", "http://localhost").pathname);
  const root = resolve(webDir);
  const file = resolve(join(root, normalize(path === "/" ? "/index.html" : path)));
  if (!file.startsWith(root + sep)) return send(response, 404, {}, "Not found");
  try {
    const body = await readFile(file);
    const type = CONTENT_TYPES[extname(file)] ?? "application/octet-stream";
    send(response, 200, { ...headers, "content-type": type, "cache-control": "no-cache" }, body);
  } catch {
    send(response, 404, { "content-type": "text/plain; charset=utf-8" }, "Not found");
  }
}

/**
 * Invokes a function with an HTTP API (payload 2.0) event, as the cloud's `POST /session` and publish routes do; the
 * route's `pathParameters`, when it has any.
 */
export async function invokeHttpApi(
  handler: LambdaHandler,
  request: IncomingMessage,
  response: ServerResponse,
  routeKey: string,
  pathParameters?: Record<string, string>,
): Promise<void> {
  const body = await readBody(request, MAX_REQUEST_BYTES);
  if (body === undefined) {
    return send(response, 413, { "content-type": "application/json" }, '{"message":"Request Entity Too Large"}');
  }
  const textual = /json|text|xml|x-www-form-urlencoded/.test(request.headers["content-type"] ?? "");
  const url = new URL(request.url ?? "/", "http://localhost");
  const now = Date.now();
  const event = {
    version: "2.0",
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers: Object.fromEntries(Object.entries(request.headers).map(([key, value]) => [key, String(value)])),
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName: request.headers.host ?? "localhost",
      http: {
        method: request.method ?? "GET",
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? "127.0.0.1",
        userAgent: request.headers["user-agent"] ?? "",
      },
      requestId: newRequestId(),
      routeKey,
      stage: "$default",
      time: new Date(now).toISOString(),
      timeEpoch: now,
    },
    ...(pathParameters ? { pathParameters } : {}),
    body: body.byteLength === 0 ? undefined : textual ? body.toString("utf8") : body.toString("base64"),
    isBase64Encoded: body.byteLength > 0 && !textual,
  };
  try {
    const result = await handler(event);
    send(response, result.statusCode, result.headers ?? {}, result.body ?? "");
  } catch {
    send(response, 500, { "content-type": "application/json" }, '{"message":"Internal Server Error"}');
  }
}
