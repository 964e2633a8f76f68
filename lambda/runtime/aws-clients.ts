import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { ApiGatewayManagementApiClient } from "@aws-sdk/client-apigatewaymanagementapi";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { limits } from "../core/limits.ts";
import { managementApiPoster, type Poster } from "../core/poster.ts";
import type { SecretSource } from "../core/token-secret.ts";

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

const common = ({ region, credentials }: AwsClientOptions) => ({
  ...(region ? { region } : {}),
  ...(credentials ? { credentials } : {}),
});

/** A DynamoDB Document client. */
export function documentClient(options: AwsClientOptions = {}): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    ...common(options),
    maxAttempts: limits.dynamoMaxAttempts,
    ...(options.dynamoEndpoint ? { endpoint: options.dynamoEndpoint } : {}),
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

/**
 * Keep-alive agents sized for a broadcast: the SDK's default agent allows 50 sockets, fewer than the posts we keep in
 * flight, and a new TLS handshake per post would dominate a fan-out.
 */
const agentOptions = { keepAlive: true, maxSockets: limits.broadcastConcurrency * 2 };

/** Posters by management API endpoint, each over one client reused across warm invocations. */
export function posterCache(override?: string, options: AwsClientOptions = {}): (endpoint: string) => Poster {
  const posters = new Map<string, Poster>();
  return (endpoint) => {
    const url = override ?? endpoint;
    let poster = posters.get(url);
    if (!poster) {
      const client = new ApiGatewayManagementApiClient({
        ...common(options),
        maxAttempts: limits.postMaxAttempts,
        endpoint: url,
        requestHandler: { httpAgent: new HttpAgent(agentOptions), httpsAgent: new HttpsAgent(agentOptions) },
      });
      poster = managementApiPoster(client);
      posters.set(url, poster);
    }
    return poster;
  };
}

/** Reads secrets from AWS Secrets Manager. */
export function secretsManagerSource(client = new SecretsManagerClient({})): SecretSource {
  return {
    async fetch(arn) {
      const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: arn }));
      return SecretString ?? "";
    },
  };
}
