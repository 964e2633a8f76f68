import type { IncomingMessage, ServerResponse } from "node:http";
import { invokeHttpApi } from "./site.ts";
import type { LambdaHandler } from "./websocket-gateway.ts";

/** The local publish API's base path: `{url}/publish` stands for the deployed `PublishUrl` (PROTOCOL §8). */
export const PUBLISH_BASE = "/publish";

const ROUTE = /^\/publish\/channels\/([^/]*)\/messages$/;

/** A path parameter as HTTP APIs hand it to the function: percent-decoded (left as sent when it cannot be). */
function pathParameter(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/**
 * Serves `POST {url}/publish/channels/{channel}/messages` with the publish function, as the deployed HTTP API's one
 * route does (signatures are not checked locally, as for the management API); any other path or method under
 * `/publish` is a 404, as an HTTP API answers a route it lacks. Answers `false` for paths outside `/publish`.
 */
export async function servePublish(
  publish: LambdaHandler,
  request: IncomingMessage,
  response: ServerResponse,
  path: string,
): Promise<boolean> {
  if (path !== PUBLISH_BASE && !path.startsWith(`${PUBLISH_BASE}/`)) return false;
  const match = ROUTE.exec(path);
  if (!match || request.method !== "POST") {
    request.resume();
    response.writeHead(404, { "content-type": "application/json" }).end('{"message":"Not Found"}');
    return true;
  }
  await invokeHttpApi(publish, request, response, "POST /channels/{channel}/messages", {
    channel: pathParameter(match[1] ?? ""),
  });
  return true;
}
