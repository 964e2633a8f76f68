import { publishMessage } from "../lambda/core/chat.ts";
import type { CoreLogger } from "../lambda/core/logger.ts";
import type { SegmentQueue } from "../lambda/core/sharded-fanout.ts";
import type { InvocationClock } from "../lambda/core/time-budget.ts";
import { createAuthorizerHandler } from "../lambda/handlers/authorizer.ts";
import {
  createBroadcastWorkerHandler,
  type SqsBatchResponse,
  type SqsEvent,
} from "../lambda/handlers/broadcast-worker.ts";
import { createChatEventsHandler } from "../lambda/handlers/chat-events.ts";
import { createConnectHandler } from "../lambda/handlers/connect.ts";
import { createDisconnectHandler } from "../lambda/handlers/disconnect.ts";
import { createMessageHandler } from "../lambda/handlers/message.ts";
import { createPublishHandler } from "../lambda/handlers/publish.ts";
import { createSessionHandler } from "../lambda/handlers/session.ts";
import type { AwsClientOptions } from "../lambda/runtime/aws-clients.ts";
import { chatEventsDepsFromEnv } from "../lambda/runtime/chat-events-from-env.ts";
import { broadcastWorkerDepsFromEnv, webSocketDepsFromEnv } from "../lambda/runtime/deps-from-env.ts";
import { sessionAuthFromEnv } from "../lambda/runtime/session-auth-from-env.ts";
import { sessionRateFromEnv } from "../lambda/runtime/session-rate-from-env.ts";
import { tokenKeyFromEnv } from "../lambda/runtime/token-key-from-env.ts";
import { lambdaContext } from "./in-process-segment-queue.ts";
import type { LambdaHandler } from "./websocket-gateway.ts";

/** The chat's functions, by the name the local stack invokes them with. */
export const FUNCTION_NAMES = [
  "authorizer",
  "$connect",
  "$disconnect",
  "$default",
  "session",
  "broadcastWorker",
  "publish",
  "chatEvents",
] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];
export type LambdaFunctions = Record<Exclude<FunctionName, "broadcastWorker">, LambdaHandler> & {
  /** The broadcast worker takes Lambda's context, as the in-process queue gives it (see `lambdaContext`). */
  readonly broadcastWorker: (
    event: Parameters<LambdaHandler>[0],
    context?: InvocationClock,
  ) => Promise<SqsBatchResponse>;
};

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
  /** The segment queue, for the routes and the broadcast worker. */
  readonly segmentQueue: SegmentQueue;
}

/**
 * Builds every function of the chat from its configuration, through the same environment-driven wiring as Lambda: one
 * cold start, whose clients (DynamoDB, management API) are reused by every invocation after it.
 */
export async function createLambdaFunctions(config: FunctionConfig, hooks: FunctionHooks): Promise<LambdaFunctions> {
  const { env, aws } = config;
  const { logger } = hooks;
  const { segmentQueue } = hooks;
  const deps = webSocketDepsFromEnv(env, { aws, logger, metrics: false, segmentQueue });
  const broadcastWorker = createBroadcastWorkerHandler(
    broadcastWorkerDepsFromEnv(env, { aws, logger, metrics: false, segmentQueue }),
  );
  const key = await tokenKeyFromEnv(env);
  return {
    authorizer: createAuthorizerHandler({ key, logger }),
    $connect: createConnectHandler(deps),
    $disconnect: createDisconnectHandler(deps),
    $default: createMessageHandler(deps),
    publish: createPublishHandler({ ...deps, publish: publishMessage }),
    chatEvents: createChatEventsHandler(chatEventsDepsFromEnv(env, { aws, logger })),
    session: createSessionHandler({
      key,
      ttlSeconds: config.tokenTtlSeconds,
      auth: sessionAuthFromEnv(env),
      rate: sessionRateFromEnv(env, { aws }),
      logger,
    }),
    // Lambda's context comes from the in-process queue; across the functions' thread it is lost (functions cannot be
    // posted), so an invocation without one gets a fresh one, counted from its start as Lambda counts its timeout.
    broadcastWorker: (event: SqsEvent, context?: InvocationClock) => broadcastWorker(event, context ?? lambdaContext()),
  };
}
