import { chatMessage } from "./client-frames.ts";
import { parseChannel, parseUsername, SERVER_NAME } from "./names.ts";

/**
 * Request bodies of the publish API over this size answer 413. Larger than the session endpoint's 16 KiB because a
 * valid body must fit: a 4,000-character message of characters JSON escapes as `\uXXXX` is 24,000 bytes.
 */
export const publishBodyMaxBytes = 32 * 1024;

/** What a backend asked to publish, validated: the channel, the sender's name (NFC) and the trimmed text. */
export interface PublishRequest {
  readonly channel: string;
  readonly from: string;
  readonly message: string;
}

/** Why a publish request is refused: 400 for what is malformed or invalid, 413 for what is too large. */
export interface PublishRefusal {
  readonly status: 400 | 413;
  readonly error: string;
}

export type ParsedPublish = { ok: true; request: PublishRequest } | { ok: false; refusal: PublishRefusal };

const refuse = (status: 400 | 413, error: string): ParsedPublish => ({ ok: false, refusal: { status, error } });

const BODY_SHAPE = '{"message":"…","from":"…"} (from is optional)';

/** The body as JSON text: base64 when API Gateway says so, capped at {@link publishBodyMaxBytes}. */
function bodyText(body: string | null | undefined, isBase64Encoded: boolean): string | PublishRefusal {
  const raw = body ?? "";
  const bytes = isBase64Encoded ? Buffer.from(raw, "base64") : Buffer.from(raw, "utf8");
  if (bytes.byteLength > publishBodyMaxBytes) {
    return { status: 413, error: `request body must be at most ${publishBodyMaxBytes} bytes` };
  }
  return bytes.toString("utf8");
}

/**
 * Validates `POST /channels/{channel}/messages` (PROTOCOL §8) with the chat's own rules: the channel by the channel
 * rule, `from` by the username rule (absent: `<server>`, which no one may name), the message as a chat message is
 * (trimmed, 1–4,000 characters; longer is 413). Nothing here throws, whatever the input.
 */
export function parsePublishRequest(
  channel: unknown,
  body: string | null | undefined,
  isBase64Encoded = false,
): ParsedPublish {
  const text = bodyText(body, isBase64Encoded);
  if (typeof text !== "string") return { ok: false, refusal: text };
  // A path parameter is never absent on AWS; absent here is not the default channel, it is a request to refuse.
  const target = channel === undefined ? { ok: false as const, error: "channel is required" } : parseChannel(channel);
  if (!target.ok) return refuse(400, target.error);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return refuse(400, `request body must be JSON: ${BODY_SHAPE}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return refuse(400, `request body must be a JSON object: ${BODY_SHAPE}`);
  }
  const fields = parsed as Record<string, unknown>;
  if (!Object.hasOwn(fields, "message")) return refuse(400, "message is required");
  if (typeof fields.message !== "string") return refuse(400, "message must be a string");
  let from = SERVER_NAME;
  if (Object.hasOwn(fields, "from")) {
    const name = parseUsername(fields.from);
    if (!name.ok) return refuse(400, `from: ${name.error}`);
    from = name.value;
  }
  const message = chatMessage(fields.message);
  if (!message.ok) return refuse(message.refusal.code === "too_large" ? 413 : 400, message.refusal.message);
  if (message.request.action !== "send") return refuse(400, "message is invalid"); // chatMessage answers only send
  return { ok: true, request: { channel: target.value, from, message: message.request.message } };
}
