/**
 * The management API's HTTP front, in a worker thread of its own: it reads each request the functions make (the
 * parsing and answering that is most of a post's cost on API Gateway's side) and hands the stack's thread, which owns
 * the WebSocket connections, only what it needs to decide: method, connection id, body. The answers come back and are
 * written here. Requests and answers cross in batches, one message per turn of either event loop.
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parentPort, workerData } from "node:worker_threads";
import { KEEP_ALIVE_MS, MAX_POST_BYTES, managementConnectionId } from "./management-api.ts";
import { type FromFront, type FrontAnswers, NO_BODY, TOO_LARGE } from "./management-front-messages.ts";
import { readBody } from "./read-body.ts";

const port = parentPort;
if (!port) throw new Error("management-front.ts runs as a worker thread of the local stack");
const { host } = workerData as { host: string };

const waiting = new Map<number, ServerResponse>();
let nextId = 0;
let outbox = { ids: [] as number[], methods: [] as (string | undefined)[], encodedIds: [] as string[] };
let bodyEnds: number[] = [];
let bodies: Buffer[] = [];
let bodyBytes = 0;
const flush = () => {
  const message: FromFront = { type: "requests", ...outbox, bodyEnds, bodies: Buffer.concat(bodies, bodyBytes) };
  outbox = { ids: [], methods: [], encodedIds: [] };
  bodyEnds = [];
  bodies = [];
  bodyBytes = 0;
  port.postMessage(message);
};
const forward = (id: number, method: string | undefined, encodedId: string, body: Buffer | undefined | null) => {
  if (outbox.ids.length === 0) setImmediate(flush);
  outbox.ids.push(id);
  outbox.methods.push(method);
  outbox.encodedIds.push(encodedId);
  if (body) {
    bodies.push(body);
    bodyBytes += body.byteLength;
  }
  bodyEnds.push(body ? bodyBytes : body === null ? TOO_LARGE : NO_BODY);
};

const server = createServer((request, response) => {
  const path = (request.url ?? "/").split("?", 1)[0] ?? "/";
  const encodedId = managementConnectionId(path);
  if (encodedId === undefined) return void response.writeHead(404, { "content-type": "text/plain" }).end("Not found");
  // Every request gets an answer from the stack's thread, which then takes it out of here.
  const id = nextId++;
  waiting.set(id, response);
  if (request.method !== "POST") return forward(id, request.method, encodedId, undefined);
  readBody(request, MAX_POST_BYTES).then(
    (body) => forward(id, request.method, encodedId, body ?? null),
    () => {
      waiting.delete(id);
      response.destroy();
    },
  );
});

port.on("message", (message: FrontAnswers) => {
  const { ids, statuses, headers, headerEnds, bodies } = message;
  let start = 0;
  for (let index = 0; index < ids.length; index++) {
    const id = ids[index] as number;
    const end = headerEnds[index] as number;
    const response = waiting.get(id);
    waiting.delete(id);
    response?.writeHead(statuses[index] as number, headers.slice(start, end) as string[]).end(bodies[index]);
    start = end;
  }
});

server.keepAliveTimeout = KEEP_ALIVE_MS;
server.headersTimeout = KEEP_ALIVE_MS + 10_000;

server.listen(0, host, () => {
  const message: FromFront = { type: "listening", port: (server.address() as AddressInfo).port };
  port.postMessage(message);
});
