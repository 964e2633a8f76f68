import * as v from "valibot";
import { limits } from "./limits.ts";
import { codePoints } from "./names.ts";

/** What a client frame asks for, once parsed (PROTOCOL §4). */
export type ClientRequest =
  | { action: "send"; message: string }
  | { action: "ping" }
  | { action: "who" }
  | { action: "history" };

/** Error codes of PROTOCOL §5. */
export type ErrorCode = "bad_request" | "too_large" | "rate_limited" | "unknown_action" | "internal";

/** A frame the server refuses, with the code and the text the sender gets back. */
export interface FrameRefusal {
  code: ErrorCode;
  message: string;
}

export type ParsedFrame = { ok: true; request: ClientRequest } | { ok: false; refusal: FrameRefusal };

const actionSchemas = {
  send: v.object({ action: v.literal("send"), message: v.string() }),
  ping: v.object({ action: v.literal("ping") }),
  who: v.object({ action: v.literal("who") }),
  history: v.object({ action: v.literal("history") }),
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
 * is a request, validated against that action's schema.
 */
export function parseClientFrame(body: string, isBinary = false): ParsedFrame {
  if (isBinary) return refuse("bad_request", "binary frames are not supported; send text");
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
  return result.output.action === "send" ? chatMessage(result.output.message) : { ok: true, request: result.output };
}
