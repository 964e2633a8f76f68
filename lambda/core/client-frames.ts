import * as v from "valibot";
import { limits } from "./limits.ts";
import { codePoints, parseUsername } from "./names.ts";

/** A message a history page starts from (PROTOCOL §4): messages are ordered by timestamp, then id. */
export interface HistoryCursor {
  timestamp: number;
  id: string;
}

/** Which page of history: the newest, the one just older than `before`, or the one just newer than `after`. */
export interface HistoryPosition {
  before?: HistoryCursor;
  after?: HistoryCursor;
}

/** Whose history: the connection's channel, or (v2) the direct messages with one user. */
export interface HistoryRequest extends HistoryPosition {
  with?: string;
}

/** What a client frame asks for, once parsed (PROTOCOL §4). */
export type ClientRequest =
  | { action: "send"; message: string }
  | { action: "ping" }
  | { action: "who" }
  | ({ action: "history" } & HistoryRequest)
  | { action: "dm"; to: string; message: string }
  | { action: "invite"; user: string }
  | { action: "remove"; user: string };

/** Error codes of PROTOCOL §5, as a list the server frames' schema reuses. */
export const ERROR_CODES = [
  "bad_request",
  "too_large",
  "rate_limited",
  "unknown_action",
  "forbidden",
  "internal",
] as const;

/** Error codes of PROTOCOL §5. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** A frame the server refuses, with the code and the text the sender gets back. */
export interface FrameRefusal {
  code: ErrorCode;
  message: string;
}

export type ParsedFrame = { ok: true; request: ClientRequest } | { ok: false; refusal: FrameRefusal };

const cursorSchema = v.object({
  // Message timestamps are epoch milliseconds: whole and not negative.
  timestamp: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  id: v.pipe(v.string(), v.minLength(1), v.maxLength(limits.historyCursorIdMaxChars)),
});

const actionSchemas = {
  send: v.object({ action: v.literal("send"), message: v.string() }),
  ping: v.object({ action: v.literal("ping") }),
  who: v.object({ action: v.literal("who") }),
  history: v.object({
    action: v.literal("history"),
    before: v.optional(cursorSchema),
    after: v.optional(cursorSchema),
    with: v.optional(v.string()),
  }),
  dm: v.object({ action: v.literal("dm"), to: v.string(), message: v.string() }),
  invite: v.object({ action: v.literal("invite"), user: v.string() }),
  remove: v.object({ action: v.literal("remove"), user: v.string() }),
} as const;

type Action = keyof typeof actionSchemas;

const isAction = (name: string): name is Action => Object.hasOwn(actionSchemas, name);

const refuse = (code: ErrorCode, message: string): ParsedFrame => ({ ok: false, refusal: { code, message } });

/** Trims a chat message and applies the length rules: empty is a bad request, over 4,000 characters too large. */
export function chatMessage(text: string): ParsedFrame {
  const message = text.trim();
  if (message.length === 0) return refuse("bad_request", "message must not be empty");
  if (codePoints(message) > limits.messageMaxChars) {
    return refuse("too_large", `message must be at most ${limits.messageMaxChars} characters`);
  }
  return { ok: true, request: { action: "send", message } };
}

/** A JSON object that carries an own `action` key; anything else is chat text. */
function actionObject(text: string): Record<string, unknown> | undefined {
  const start = text.trimStart();
  if (!start.startsWith("{")) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined; // text that merely looks like JSON is a chat message, as in the seed
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return undefined;
  return Object.hasOwn(parsed, "action") ? (parsed as Record<string, unknown>) : undefined;
}

/**
 * Reads one client frame: plain text (or JSON without an `action`) is a chat message, a JSON object with an `action`
 * is a request, validated against that action's schema. Binary frames never get here: API Gateway closes the
 * connection with 1003 on one and invokes no route ("Binary media types for WebSocket APIs").
 */
export function parseClientFrame(body: string): ParsedFrame {
  const frame = actionObject(body);
  if (frame === undefined) return chatMessage(body);
  const { action } = frame;
  if (typeof action !== "string") return refuse("bad_request", "action must be a string");
  if (!isAction(action)) return refuse("unknown_action", `unknown action: ${action.slice(0, 64)}`);
  const result = v.safeParse(actionSchemas[action], frame);
  if (!result.success) {
    const field = result.issues[0].path?.map((item) => String(item.key)).join(".") ?? "frame";
    return refuse("bad_request", `${action}: ${field} is missing or not of the right type`);
  }
  const request = result.output;
  if (request.action === "send") return chatMessage(request.message);
  if (request.action === "dm") {
    const to = parseUsername(request.to);
    if (!to.ok) return refuse("bad_request", `dm: to: ${to.error}`);
    const text = chatMessage(request.message);
    if (!text.ok) return text;
    return {
      ok: true,
      request: { action: "dm", to: to.value, message: (text.request as { message: string }).message },
    };
  }
  if (request.action === "invite" || request.action === "remove") {
    const user = parseUsername(request.user);
    if (!user.ok) return refuse("bad_request", `${request.action}: user: ${user.error}`);
    return { ok: true, request: { action: request.action, user: user.value } };
  }
  if (request.action === "history" && request.with !== undefined) {
    const peer = parseUsername(request.with);
    if (!peer.ok) return refuse("bad_request", `history: with: ${peer.error}`);
    request.with = peer.value;
  }
  if (request.action === "history" && request.before !== undefined && request.after !== undefined) {
    return refuse("bad_request", "history: give before or after, not both");
  }
  return { ok: true, request };
}
