import { randomBytes } from "node:crypto";
import { Agent, request } from "node:http";
import { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { broadcast } from "../lambda/core/broadcast.ts";
import type { Member } from "../lambda/core/connection-store.ts";
import { limits } from "../lambda/core/limits.ts";
import { managementApiPoster, type Poster, signedHttpPoster } from "../lambda/core/poster.ts";
import { managementClient } from "../lambda/runtime/management-client.ts";

/**
 * The ways one process can post a frame to many connections:
 * - `raw`: a pool of plain keep-alive `http.request` calls, unsigned (the ceiling);
 * - `signed-http`: our lean poster ({@link signedHttpPoster}) through the broadcast engine;
 * - `sdk-tuned`: `PostToConnectionCommand` on our tuned client ({@link managementClient}) through the broadcast engine;
 * - `sdk-plain`: the same on a client as the SDK makes it (one client reused, keep-alive agent sized for the load).
 */
export type FanoutPath = "raw" | "signed-http" | "sdk-tuned" | "sdk-plain";

/** One timed fan-out. */
export interface FanoutSample {
  path: FanoutPath;
  recipients: number;
  concurrency: number;
  ms: number;
  perSec: number;
  /** CPU of the measuring process (user + system) per post. */
  cpuUsPerPost: number;
  /** Posts that did not come back delivered (must be 0 for the sample to count). */
  notDelivered: number;
}

const credentials = { accessKeyId: "bench", secretAccessKey: "bench" };
/** A chat message frame of a typical size (about 150 bytes), encoded once as the broadcast does. */
const frame = {
  type: "message",
  id: "0b6f3a52-6a1f-4c4e-9a59-9f0c2f1d7e11",
  from: "Lucy",
  message: "Is the deploy finished? The dashboard still shows the old version.",
  channel: "support",
  timestamp: 1_764_082_800_123,
};

/** Connection ids of API Gateway's shape (16 characters of base64, e.g. `L0SM9cOFvHcCIhw=`). */
export const connectionIds = (count: number): string[] =>
  Array.from({ length: count }, () => randomBytes(10).toString("base64").slice(0, 15).concat("="));

/** The channel index as the broadcast reads it, in pages of `limits.membersPageSize`, without DynamoDB. */
function fakeConnections(ids: readonly string[]) {
  return {
    async *memberPages(): AsyncGenerator<Member[]> {
      for (let start = 0; start < ids.length; start += limits.membersPageSize) {
        yield ids.slice(start, start + limits.membersPageSize).map((connectionId) => ({ connectionId, username: "u" }));
      }
    },
    removeMany: async () => [],
  };
}

function rawPost(agent: Agent, endpoint: URL, id: string, data: Uint8Array): Promise<boolean> {
  return new Promise((resolve) => {
    const post = request(
      {
        agent,
        method: "POST",
        hostname: endpoint.hostname,
        port: endpoint.port,
        path: `${endpoint.pathname}/@connections/${encodeURIComponent(id)}`,
        headers: { "content-type": "application/octet-stream", "content-length": data.byteLength },
      },
      (response) => {
        response.resume();
        response.once("end", () => resolve(response.statusCode === 200));
      },
    );
    post.once("error", () => resolve(false));
    post.end(data);
  });
}

/** A way to post, built fresh (own client, own agent) for one measurement. */
interface Fanout {
  run(ids: readonly string[]): Promise<number>;
  close(): void;
}

function build(path: FanoutPath, endpoint: string, concurrency: number): Fanout {
  // Sockets for every post in flight (the SDK's default agent has 50), kept alive across posts.
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const data = Buffer.from(JSON.stringify(frame));
  if (path === "raw") {
    const url = new URL(endpoint);
    return {
      async run(ids) {
        let next = 0;
        let delivered = 0;
        const worker = async () => {
          while (next < ids.length) if (await rawPost(agent, url, ids[next++] as string, data)) delivered++;
        };
        await Promise.all(Array.from({ length: concurrency }, worker));
        return delivered;
      },
      close: () => agent.destroy(),
    };
  }
  const options = { region: "us-east-1", credentials };
  const agents = { httpAgent: agent };
  // The lean poster needs no SDK client; the two SDK paths each post through one.
  let client: ApiGatewayManagementApiClient | undefined;
  let poster: Poster;
  if (path === "signed-http") {
    poster = signedHttpPoster({ endpoint, region: options.region, credentials: async () => credentials, agent });
  } else {
    client =
      path === "sdk-plain"
        ? new ApiGatewayManagementApiClient({
            ...options,
            endpoint,
            maxAttempts: limits.postMaxAttempts,
            requestHandler: agents,
          })
        : managementClient(endpoint, options, agents);
    poster = managementApiPoster(client);
  }
  return {
    async run(ids) {
      const result = await broadcast({ connections: fakeConnections(ids), poster }, "bench", frame, { concurrency });
      return result.delivered;
    },
    close() {
      client?.destroy();
      agent.destroy();
    },
  };
}

/**
 * Fans one frame out to `recipients` connections along `path` with `concurrency` posts in flight, after a warm-up
 * round (sockets opened, code paths compiled) on a fresh client and agent, as a warm Lambda would have them.
 */
export async function measureFanout(
  path: FanoutPath,
  endpoint: string,
  recipients: number,
  concurrency: number,
): Promise<FanoutSample> {
  const fanout = build(path, endpoint, concurrency);
  try {
    await fanout.run(connectionIds(Math.min(recipients, concurrency * 2)));
    const ids = connectionIds(recipients);
    const cpu = process.cpuUsage();
    const started = performance.now();
    const delivered = await fanout.run(ids);
    const ms = performance.now() - started;
    const used = process.cpuUsage(cpu);
    return {
      path,
      recipients,
      concurrency,
      ms,
      perSec: (recipients / ms) * 1000,
      cpuUsPerPost: (used.user + used.system) / recipients,
      notDelivered: recipients - delivered,
    };
  } finally {
    fanout.close();
  }
}
