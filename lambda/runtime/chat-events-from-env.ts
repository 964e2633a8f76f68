import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { ChatEventPublisher } from "../core/chat-events-publisher.ts";
import type { CoreLogger } from "../core/logger.ts";
import type { ChatEventsDeps } from "../handlers/chat-events.ts";
import { type AwsClientOptions, clientSettings } from "./aws-clients.ts";
import { requireEnv } from "./environment.ts";
import { newLogger } from "./function-logger.ts";

type Env = Record<string, string | undefined>;

/** Attempts per PutEvents call in the SDK (its standard retry strategy), before the publisher's own rounds. */
const PUT_EVENTS_MAX_ATTEMPTS = 3;

/**
 * The events function's dependencies from the environment: `CHAT_EVENT_BUS_NAME`, `HISTORY_TABLE` and
 * `PRESENCE_TABLE` (which tables the stream records come from), and `AWS_ENDPOINT_URL_EVENTBRIDGE` when set (the
 * local stack's bus; the SDK's own service-specific endpoint variable, read here from `env` so a local environment
 * that is not `process.env` works too).
 */
export function chatEventsDepsFromEnv(
  env: Env = process.env,
  options: { aws?: AwsClientOptions; logger?: CoreLogger } = {},
): ChatEventsDeps {
  const busName = requireEnv("CHAT_EVENT_BUS_NAME", env);
  const tables = { history: requireEnv("HISTORY_TABLE", env), presence: requireEnv("PRESENCE_TABLE", env) };
  const endpoint = env.AWS_ENDPOINT_URL_EVENTBRIDGE || undefined;
  const client = new EventBridgeClient({
    ...clientSettings(options.aws ?? {}),
    ...(endpoint ? { endpoint } : {}),
    maxAttempts: PUT_EVENTS_MAX_ATTEMPTS,
  });
  const logger = options.logger ?? newLogger();
  return { publisher: new ChatEventPublisher(client, busName, { logger }), tables, logger };
}
