import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { limits } from "../core/limits.ts";
import { managementApiPoster, type Poster, signedHttpPoster } from "../core/poster.ts";

/**
 * Settings shared by the clients. In Lambda all are left out (region and credentials come from the environment); the
 * local stack and tests set them to reach local endpoints.
 */
export interface AwsClientOptions {
  readonly region?: string;
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
  /** A DynamoDB endpoint other than AWS's, e.g. the local store. */
  readonly dynamoEndpoint?: string;
  /** How posts to connections are made (see {@link PosterKind}). Default: {@link defaultPosterKind}. */
  readonly poster?: PosterKind;
}

/**
 * `"sdk"`: `PostToConnectionCommand` through a tuned {@link managementClient}. `"signed-http"`: the same request signed
 * by that client's own signer and sent with `http(s).request` ({@link signedHttpPoster}), several times less CPU per
 * post, which is what bounds a large fan-out (bench/README.md has the figures).
 */
export type PosterKind = "sdk" | "signed-http";

/** The poster the functions and the local stack use unless told otherwise. */
export const defaultPosterKind: PosterKind = "signed-http";

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
 * Keep-alive agents sized for a broadcast: the SDK's default agent allows 50 sockets, fewer than the posts we keep in
 * flight, and a new TLS handshake per post would dominate a fan-out.
 */
const agentOptions = { keepAlive: true, maxSockets: limits.broadcastConcurrency * 2 };

/**
 * Middleware that does nothing a post to a connection needs: the logger logs to a no-op logger; the user agent only
 * tells AWS which SDK called; recursion detection forwards Lambda's X-Ray trace id, which only matters for calls
 * that can invoke Lambda again. Each costs a few percent of a post's CPU.
 */
const skippedMiddleware = ["loggerMiddleware", "getUserAgentMiddleware", "recursionDetectionMiddleware"];

/**
 * A management API client tuned for fan-out: its middleware stack resolved once (`cacheMiddleware`), the middleware
 * in {@link skippedMiddleware} removed, one SigV4 signer reused (the SDK otherwise builds one per request), and
 * keep-alive agents with enough sockets for the posts in flight.
 */
export function managementClient(
  endpoint: string,
  options: AwsClientOptions = {},
  agents: { httpAgent?: HttpAgent; httpsAgent?: HttpsAgent } = {
    httpAgent: new HttpAgent(agentOptions),
    httpsAgent: new HttpsAgent(agentOptions),
  },
): ApiGatewayManagementApiClient {
  const client = new ApiGatewayManagementApiClient({
    ...clientSettings(options),
    maxAttempts: limits.postMaxAttempts,
    endpoint,
    cacheMiddleware: true,
    requestHandler: agents,
  });
  for (const name of skippedMiddleware) client.middlewareStack.remove(name);
  // One client serves one endpoint with one auth scheme, so the signer the SDK would build per request is built once;
  // it still asks the client's credential provider for credentials on every signature, so they refresh as before.
  const newSigner = client.config.signer;
  let signer: ReturnType<typeof newSigner> | undefined;
  client.config.signer = (authScheme) => {
    if (!signer) {
      signer = newSigner(authScheme);
      signer.catch(() => {
        signer = undefined;
      });
    }
    return signer;
  };
  return client;
}

/** Posters by management API endpoint, each over one client (and its agents) reused across warm invocations. */
export function posterCache(override?: string, options: AwsClientOptions = {}): (endpoint: string) => Poster {
  const posters = new Map<string, Poster>();
  const kind = options.poster ?? defaultPosterKind;
  return (endpoint) => {
    const url = override ?? endpoint;
    let poster = posters.get(url);
    if (!poster) {
      const agents = { httpAgent: new HttpAgent(agentOptions), httpsAgent: new HttpsAgent(agentOptions) };
      const client = managementClient(url, options, agents);
      const agent = new URL(url).protocol === "https:" ? agents.httpsAgent : agents.httpAgent;
      poster = kind === "sdk" ? managementApiPoster(client) : signedHttpPoster({ endpoint: url, client, agent });
      posters.set(url, poster);
    }
    return poster;
  };
}
