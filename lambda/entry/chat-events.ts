import { createChatEventsHandler } from "../handlers/chat-events.ts";
import { chatEventsDepsFromEnv } from "../runtime/chat-events-from-env.ts";

/** Lambda entry of the events function (DynamoDB Streams of the history and presence tables → EventBridge). */
export const handler = createChatEventsHandler(chatEventsDepsFromEnv());
