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

/** (v2) A direct message as the recipient's and the sender's connections receive it (PROTOCOL §7). */
export const dmFrameSchema = v.object({
  type: v.literal("dm"),
  id: v.string(),
  from: v.string(),
  to: v.string(),
  message: v.string(),
  timestamp: v.number(),
});
export type DmFrame = v.InferOutput<typeof dmFrameSchema>;

/** What a history page holds: a channel's messages, or the direct messages of one conversation. */
export type StoredFrame = MessageFrame | DmFrame;

/** The server's frames, as a schema the page and the tests validate against. */
export const serverFrameSchema = v.variant("type", [
  messageFrameSchema,
  dmFrameSchema,
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
  // (v2) one page: `more` says whether older messages exist (newer ones, for a page asked `after` a message). A
  // channel's page names the channel; a conversation's (`history` with `with`) names the other user as `with`.
  v.object({
    type: v.literal("history"),
    channel: v.optional(v.string()),
    with: v.optional(v.string()),
    messages: v.array(v.variant("type", [messageFrameSchema, dmFrameSchema])),
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

/** Whose history a page is: a channel's, or the conversation with one user. */
export type HistorySource = { channel: string } | { with: string };

/** One page of history, oldest first. */
export const historyFrame = (source: string | HistorySource, messages: StoredFrame[], more: boolean): ServerFrame => ({
  type: "history",
  ...(typeof source === "string" ? { channel: source } : source),
  messages,
  more,
});

/** An error for the sender alone (PROTOCOL §5). */
export const errorFrame = (code: ErrorCode, message: string): ServerFrame => ({ type: "error", code, message });
