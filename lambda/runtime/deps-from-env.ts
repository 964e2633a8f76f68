import { Logger } from "@aws-lambda-powertools/logger";
import { ConnectionStore } from "../core/connection-store.ts";
import { HistoryStore } from "../core/history-store.ts";
import type { CoreLogger } from "../core/logger.ts";
import { RateLimiter } from "../core/rate-limiter.ts";
import { type TokenKey, tokenKey } from "../core/session-token.ts";
import { resolveTokenSecret } from "../core/token-secret.ts";
import type { WebSocketHandlerDeps } from "../handlers/websocket-deps.ts";
import { type AwsClientOptions, documentClient, posterCache, secretsManagerSource } from "./aws-clients.ts";
import { chatMetrics } from "./chat-metrics.ts";
import { requireEnv } from "./environment.ts";

type Env = Record<string, string | undefined>;

/** The functions' logger: JSON lines with the service name; callers add connectionId, channel, requestId. */
export const newLogger = (): Logger => new Logger({ serviceName: "chat" });

/**
 * The WebSocket routes' dependencies from the environment: `CONNECTIONS_TABLE`, `HISTORY_TABLE`, and optionally
 * `CHAT_MANAGEMENT_ENDPOINT` (where API Gateway's own `https://{domainName}/{stage}` is not the way to reach it).
 * The local stack calls it too, with its own environment and client options and no CloudWatch metrics, so both run
 * the same wiring.
 */
export function webSocketDepsFromEnv(
  env: Env = process.env,
  aws: AwsClientOptions = {},
  logger: CoreLogger = newLogger(),
  metrics = true,
): WebSocketHandlerDeps {
  const connectionsTable = requireEnv("CONNECTIONS_TABLE", env);
  const historyTable = requireEnv("HISTORY_TABLE", env);
  const doc = documentClient(aws);
  return {
    connections: new ConnectionStore(doc, connectionsTable),
    history: new HistoryStore(doc, historyTable),
    rateLimiter: new RateLimiter(doc, connectionsTable),
    posterFor: posterCache(env.CHAT_MANAGEMENT_ENDPOINT || undefined, aws),
    logger,
    ...(metrics ? chatMetrics() : {}),
  };
}

/** The token key, from `CHAT_TOKEN_SECRET_ARN` (Secrets Manager) or `CHAT_TOKEN_SECRET`; read once per cold start. */
export async function tokenKeyFromEnv(env: Env = process.env): Promise<TokenKey> {
  const source = env.CHAT_TOKEN_SECRET_ARN ? secretsManagerSource() : undefined;
  return tokenKey(await resolveTokenSecret(env, source));
}
