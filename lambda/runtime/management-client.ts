import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { limits } from "../core/limits.ts";
import { type AwsClientOptions, clientSettings, posterAgentOptions } from "./aws-clients.ts";

/*
 * The SDK's management API client, tuned, for `managementApiPoster` (lambda/core/poster.ts). The functions post with
 * the lean poster instead (`posterCache` in aws-clients.ts), so no function imports this module and no bundle carries
 * the client; the benchmarks compare the two, and anyone who prefers the SDK's own path can wire it in.
 */

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
    httpAgent: new HttpAgent(posterAgentOptions),
    httpsAgent: new HttpsAgent(posterAgentOptions),
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
