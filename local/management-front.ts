/**
 * The management API's HTTP front, in a worker thread of its own: it reads each request the functions make (the
 * parsing and answering that is most of a post's cost on API Gateway's side) and hands the stack's thread, which owns
 * the WebSocket connections, only what it needs to decide: method, connection id, body. The answers come back and are
 * written here. Requests and answers cross in batches, one message per turn of either event loop.
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parentPort, workerData } from "node:worker_threads";
import { MAX_POST_BYTES, managementConnectionId } from "./management-api.ts";
import type { FromFront, FrontRequest, ToFront } from "./management-thread.ts";
import { readBody } from "./read-body.ts";

const port = parentPort;
if (!port) throw new Error("management-front.ts runs as a worker thread of the local stack");
const { host } = workerData as { host: string };

const waiting = new Map<number, ServerResponse>();
let nextId = 0;
let outbox: FrontRequest[] = [];
const flush = () => {
  const message: FromFront = { type: "requests", requests: outbox };
  outbox = [];
  port.postMessage(message);
};
const forward = (request: FrontRequest) => {
  if (outbox.length === 0) setImmediate(flush);
  outbox.push(request);
};

const server = createServer((request, response) => {
  const path = (request.url ?? "/").split("?", 1)[0] ?? "/";
  const encodedId = managementConnectionId(path);
  if (encodedId === undefined) return void response.writeHead(404, { "content-type": "text/plain" }).end("Not found");
  const id = nextId++;
  waiting.set(id, response);
  response.once("close", () => waiting.delete(id));
  if (request.method !== "POST") return forward({ id, method: request.method, encodedId });
  readBody(request, MAX_POST_BYTES).then(
    (body) => forward({ id, method: request.method, encodedId, body: body ?? null }),
    () => {
      waiting.delete(id);
      response.destroy();
    },
  );
});

port.on("message", (message: ToFront) => {
  for (const { id, status, headers, body } of message.answers) {
    const response = waiting.get(id);
    waiting.delete(id);
    response?.writeHead(status, headers).end(body);
  }
});

server.listen(0, host, () => {
  const message: FromFront = { type: "listening", port: (server.address() as AddressInfo).port };
  port.postMessage(message);
});
