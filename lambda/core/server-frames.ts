import * as v from "valibot";
import { ERROR_CODES, type ErrorCode } from "./client-frames.ts";
import { SERVER_NAME } from "./names.ts";

/** A chat message as every member of the channel receives it (PROTOCOL §5). */
export const messageFrameSchema = v.object({
  type: v.literal("message"),
  id: v.string(),
  from: v.string(),
  message: v.string(),
  channel: v.string(),
  timestamp: v.number(),
});
export type MessageFrame = v.InferOutput<typeof messageFrameSchema>;

/** The server's frames, as a schema the page and the tests validate against. */
export const serverFrameSchema = v.variant("type", [
  messageFrameSchema,
  v.object({
    type: v.literal("system"),
    from: v.literal(SERVER_NAME),
    message: v.string(),
    channel: v.string(),
    timestamp: v.number(),
  }),
  v.object({ type: v.literal("pong"), timestamp: v.number() }),
  // (v2) at most `limits.presenceListMax` users listed; `count` is all of them.
  v.object({ type: v.literal("presence"), channel: v.string(), users: v.array(v.string()), count: v.number() }),
  // (v2) one page: `more` says whether older messages exist (newer ones, for a page asked `after` a message).
  v.object({
    type: v.literal("history"),
    channel: v.string(),
    messages: v.array(messageFrameSchema),
    more: v.boolean(),
  }),
  v.object({ type: v.literal("error"), code: v.picklist(ERROR_CODES), message: v.string() }),
]);
export type ServerFrame = v.InferOutput<typeof serverFrameSchema>;
export type SystemFrame = Extract<ServerFrame, { type: "system" }>;

/** "Lucy connected" / "Lucy disconnected", from the server to the channel. */
export const systemFrame = (channel: string, message: string, timestamp: number): SystemFrame => ({
  type: "system",
  from: SERVER_NAME,
  message,
  channel,
  timestamp,
});

/** The answer to `ping`. */
export const pongFrame = (timestamp: number): ServerFrame => ({ type: "pong", timestamp });

/** The answer to `who`: `users` as listed (unique, sorted, capped by the caller), `count` all of them. */
export const presenceFrame = (channel: string, users: string[], count: number): ServerFrame => ({
  type: "presence",
  channel,
  users,
  count,
});

/** One page of history, oldest first. */
export const historyFrame = (channel: string, messages: MessageFrame[], more: boolean): ServerFrame => ({
  type: "history",
  channel,
  messages,
  more,
});

/** An error for the sender alone (PROTOCOL §5). */
export const errorFrame = (code: ErrorCode, message: string): ServerFrame => ({ type: "error", code, message });
