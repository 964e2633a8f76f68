import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import type { Faults } from "./faults.ts";

type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * Puts fault injection in front of a DynamoDB request handler: added latency, and throttling answered exactly as
 * DynamoDB does (400 with the error type in the body), so the SDK classifies and retries it as on AWS.
 */
export function withDynamoFaults(handler: RequestHandler, faults: Faults): RequestHandler {
  return (request, response) => {
    void faults.delay("dynamo").then(() => {
      if (!faults.throttleDynamo()) return handler(request, response);
      request.resume();
      const body = JSON.stringify({
        __type: "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        message: "The level of configured provisioned throughput for the table was exceeded (injected)",
      });
      response.writeHead(400, {
        "content-type": "application/x-amz-json-1.0",
        "content-length": Buffer.byteLength(body),
      });
      response.end(body);
    });
  };
}

/** A loopback endpoint in front of another store. */
export interface DynamoFaultProxy {
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * A loopback HTTP proxy to a DynamoDB-compatible `target` with the faults in front, for a store running in a process
 * of its own. Requests are forwarded as they are, so it suits stores that do not check signatures (DynamoDB Local,
 * dynalite): the signed Host names the proxy, not the target.
 */
export async function startDynamoFaultProxy(target: string, faults: Faults): Promise<DynamoFaultProxy> {
  const base = new URL(target);
  const send = base.protocol === "https:" ? httpsRequest : httpRequest;
  const forward: RequestHandler = (request, response) => {
    const upstream = send(
      {
        protocol: base.protocol,
        hostname: base.hostname,
        port: base.port,
        path: request.url,
        method: request.method,
        headers: { ...request.headers, host: base.host },
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on("error", () => response.destroy()); // the SDK sees a dropped connection and retries, as on AWS
    request.pipe(upstream);
  };
  const server = createServer({ keepAlive: true }, withDynamoFaults(forward, faults));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error?: Error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
