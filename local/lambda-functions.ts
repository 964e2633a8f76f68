import type { CoreLogger } from "../lambda/core/logger.ts";
import type { SegmentQueue } from "../lambda/core/sharded-fanout.ts";
import { createAuthorizerHandler } from "../lambda/handlers/authorizer.ts";
import { createBroadcastWorkerHandler } from "../lambda/handlers/broadcast-worker.ts";
import { createConnectHandler } from "../lambda/handlers/connect.ts";
import { createDisconnectHandler } from "../lambda/handlers/disconnect.ts";
import { createMessageHandler } from "../lambda/handlers/message.ts";
import { createSessionHandler } from "../lambda/handlers/session.ts";
import type { AwsClientOptions } from "../lambda/runtime/aws-clients.ts";
import { broadcastWorkerDepsFromEnv, webSocketDepsFromEnv } from "../lambda/runtime/deps-from-env.ts";
import { tokenKeyFromEnv } from "../lambda/runtime/token-key-from-env.ts";
import type { LambdaHandler } from "./websocket-gateway.ts";

/** The chat's functions, by the name the local stack invokes them with. */
export const FUNCTION_NAMES = [
  "authorizer",
  "$connect",
  "$disconnect",
  "$default",
  "session",
  "broadcastWorker",
] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];
export type LambdaFunctions = Record<FunctionName, LambdaHandler>;

/** What the functions are configured with: plain data, so it can be handed to a worker thread. */
export interface FunctionConfig {
  /** The functions' environment, as CDK sets it (tables, management endpoint, token secret). */
  readonly env: Record<string, string>;
  /** Region, credentials and the local store's endpoint. */
  readonly aws: AwsClientOptions;
  readonly tokenTtlSeconds?: number;
}

/** Where the functions' logs and large channels' segments go. */
export interface FunctionHooks {
  readonly logger: CoreLogger;
  readonly segmentQueueFor: (endpoint: string) => SegmentQueue;
}

/**
 * Builds every function of the chat from its configuration, through the same environment-driven wiring as Lambda: one
 * cold start, whose clients (DynamoDB, management API) are reused by every invocation after it.
 */
export async function createLambdaFunctions(config: FunctionConfig, hooks: FunctionHooks): Promise<LambdaFunctions> {
  const { env, aws } = config;
  const { logger, segmentQueueFor } = hooks;
  const deps = webSocketDepsFromEnv(env, { aws, logger, metrics: false, segmentQueueFor });
  const key = await tokenKeyFromEnv(env);
  return {
    authorizer: createAuthorizerHandler({ key, logger }),
    $connect: createConnectHandler(deps),
    $disconnect: createDisconnectHandler(deps),
    $default: createMessageHandler(deps),
    session: createSessionHandler({ key, ttlSeconds: config.tokenTtlSeconds, logger }),
    broadcastWorker: createBroadcastWorkerHandler(broadcastWorkerDepsFromEnv(env, { aws, logger, metrics: false })),
  };
}
