import { type TokenKey, tokenKey } from "../core/session-token.ts";
import { resolveTokenSecret, type SecretSource } from "../core/token-secret.ts";

/**
 * Reads secrets through the AWS Parameters and Secrets Lambda extension (a layer the CDK stack adds to the functions
 * that read the token key): one HTTP call to the extension on localhost instead of a bundled Secrets Manager client,
 * which would more than double the authorizer's and session function's bundles and cold starts.
 */
export function secretsExtensionSource(env: Record<string, string | undefined> = process.env): SecretSource {
  const port = env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT || "2773";
  return {
    async fetch(arn) {
      const response = await fetch(`http://localhost:${port}/secretsmanager/get?secretId=${encodeURIComponent(arn)}`, {
        // The extension only answers calls that prove they come from this execution environment.
        headers: { "X-Aws-Parameters-Secrets-Token": env.AWS_SESSION_TOKEN ?? "" },
      });
      if (!response.ok) {
        throw new Error(
          `the secrets extension answered ${response.status} for ${arn}: ${(await response.text()).slice(0, 200)}`,
        );
      }
      const { SecretString } = (await response.json()) as { SecretString?: unknown };
      return typeof SecretString === "string" ? SecretString : "";
    },
  };
}

/**
 * The token key, from `CHAT_TOKEN_SECRET_ARN` (Secrets Manager, through the extension) or `CHAT_TOKEN_SECRET`; read
 * once per cold start. Kept apart from the WebSocket routes' wiring, so these bundles hold no AWS SDK client.
 */
export async function tokenKeyFromEnv(env: Record<string, string | undefined> = process.env): Promise<TokenKey> {
  const source = env.CHAT_TOKEN_SECRET_ARN ? secretsExtensionSource(env) : undefined;
  return tokenKey(await resolveTokenSecret(env, source));
}
