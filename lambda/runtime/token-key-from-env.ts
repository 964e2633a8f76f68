import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { type TokenKey, tokenKey } from "../core/session-token.ts";
import { resolveTokenSecret, type SecretSource } from "../core/token-secret.ts";

/**
 * Kept apart from the WebSocket routes' wiring so the authorizer and session bundles hold no DynamoDB, management API
 * or SQS client.
 */

/** Reads secrets from AWS Secrets Manager. */
export function secretsManagerSource(client = new SecretsManagerClient({})): SecretSource {
  return {
    async fetch(arn) {
      const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: arn }));
      return SecretString ?? "";
    },
  };
}

/** The token key, from `CHAT_TOKEN_SECRET_ARN` (Secrets Manager) or `CHAT_TOKEN_SECRET`; read once per cold start. */
export async function tokenKeyFromEnv(env: Record<string, string | undefined> = process.env): Promise<TokenKey> {
  const source = env.CHAT_TOKEN_SECRET_ARN ? secretsManagerSource() : undefined;
  return tokenKey(await resolveTokenSecret(env, source));
}
