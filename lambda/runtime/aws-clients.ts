import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { AwsCredentials } from "../core/aws-http.ts";
import { limits } from "../core/limits.ts";
import { type Poster, signedHttpPoster } from "../core/poster.ts";

/**
 * Settings shared by the clients. In Lambda all are left out (region and credentials come from the environment); the
 * local stack and tests set them to reach local endpoints.
 */
export interface AwsClientOptions {
  readonly region?: string;
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
  /** A DynamoDB endpoint other than AWS's, e.g. the local store. */
  readonly dynamoEndpoint?: string;
}

/** Region and credentials from `options`, only those given: an absent one leaves the SDK's own default. */
export const clientSettings = ({ region, credentials }: AwsClientOptions) => ({
  ...(region ? { region } : {}),
  ...(credentials ? { credentials } : {}),
});

const dynamoAgentOptions = { keepAlive: true, maxSockets: 256 };

/** A DynamoDB Document client. */
export function documentClient(options: AwsClientOptions = {}): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    ...clientSettings(options),
    maxAttempts: limits.dynamoMaxAttempts,
    ...(options.dynamoEndpoint ? { endpoint: options.dynamoEndpoint } : {}),
    // One function instance makes a few calls at a time, but the local stack runs up to 64 invocations in one
    // process, and the SDK's default of 50 sockets would queue them (and warn about it).
    requestHandler: { httpAgent: new HttpAgent(dynamoAgentOptions), httpsAgent: new HttpsAgent(dynamoAgentOptions) },
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/**
 * Keep-alive agents sized for a broadcast: Node's default agent would open and close a socket per post, and a new TLS
 * handshake per post would dominate a fan-out.
 */
export const posterAgentOptions = { keepAlive: true, maxSockets: limits.broadcastConcurrency * 2 };

/**
 * Posters by management API endpoint, each with its agent, reused across warm invocations: the lean
 * {@link signedHttpPoster}, signing with the Region and credentials the SDK clients get (in Lambda: the environment).
 */
export function posterCache(options: AwsClientOptions = {}): (endpoint: string) => Poster {
  const posters = new Map<string, Poster>();
  const region = options.region ?? process.env.AWS_REGION;
  // Checked at cold start, not at the first post: a function without a Region cannot post at all.
  if (!region) throw new Error("No AWS Region to sign posts for: set AWS_REGION");
  const given = options.credentials;
  const credentials = given ? async (): Promise<AwsCredentials> => given : defaultProvider();
  return (endpoint) => {
    let poster = posters.get(endpoint);
    if (!poster) {
      const agent =
        new URL(endpoint).protocol === "https:"
          ? new HttpsAgent(posterAgentOptions)
          : new HttpAgent(posterAgentOptions);
      poster = signedHttpPoster({ endpoint, region, credentials, agent });
      posters.set(endpoint, poster);
    }
    return poster;
  };
}
