import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { exitWithParent } from "./child.ts";

/**
 * A minimal management API for the fan-out benchmark, run in its own process: `POST /{stage}/@connections/{id}`
 * answers 200 after the injected latency (API Gateway's round trip), nothing else. It does no work per connection,
 * so the measuring process sees only the cost of its own posting. Message `{ type: "latency", ms }` changes the
 * latency; `{ type: "count" }` answers `{ type: "count", posts }`.
 */
const POST_PATH = /^\/[^/]+\/@connections\/[^/]+$/;
let latencyMs = Number(process.argv[2] ?? 20);
let posts = 0;

const server = createServer((request, response) => {
  request.resume();
  request.once("end", () => {
    if (request.method !== "POST" || !POST_PATH.test(request.url ?? "")) {
      response.writeHead(404, { "content-length": 0 }).end();
      return;
    }
    posts++;
    setTimeout(() => response.writeHead(200, { "content-length": 0 }).end(), latencyMs);
  });
});
// Keep-alive sockets stay open across measurements, as warm Lambda sockets to API Gateway do.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 130_000;
server.maxRequestsPerSocket = 0;

exitWithParent();
process.on("message", (message: { type?: string; ms?: number }) => {
  if (message.type === "latency" && typeof message.ms === "number") latencyMs = message.ms;
  if (message.type === "count") process.send?.({ type: "count", posts });
});
server.listen(0, "127.0.0.1", () => {
  process.send?.({ type: "ready", port: (server.address() as AddressInfo).port });
});
