import * as v from "valibot";
import { limits } from "./limits.ts";

/** The sender name of system frames; no user may take it. */
export const SERVER_NAME = "<server>";

/** The channel a connection joins when it names none. */
export const DEFAULT_CHANNEL = "default";

/** Channels whose names start with this are private (PROTOCOL v2 §7). */
export const PRIVATE_PREFIX = "private-";

/** Whether a channel is private: only its members may enter it (PROTOCOL v2 §7). */
export const isPrivateChannel = (channel: string): boolean => channel.startsWith(PRIVATE_PREFIX);

const codePoints = (text: string): number => {
  let count = 0;
  for (const _ of text) count++;
  return count;
};

/** Unicode letters and marks, decimal digits, space, `_`, `.`, `-` (PROTOCOL "Names and limits"). */
const USERNAME_PATTERN = /^[\p{L}\p{M}\p{Nd} _.-]+$/u;
const CHANNEL_PATTERN = /^[A-Za-z0-9_-]+$/;

/**
 * A username as the protocol accepts it: trimmed, in Unicode NFC, then 1–32 code points of the allowed characters.
 * NFC makes "Zoë" typed with a combining diaeresis and with a precomposed ë the same user everywhere names compare.
 */
export const usernameSchema = v.pipe(
  v.string("username must be a string"),
  v.trim(),
  v.transform((name) => name.normalize("NFC")),
  v.check((name) => name.length > 0, "username must not be empty"),
  v.check(
    (name) => codePoints(name) <= limits.usernameMaxChars,
    `username must be at most ${limits.usernameMaxChars} characters`,
  ),
  v.check((name) => name !== SERVER_NAME, `username ${SERVER_NAME} is reserved`),
  v.regex(USERNAME_PATTERN, "username may hold only letters, digits, spaces, '_', '.' and '-'"),
);

/** A channel name: 1–64 characters of `A-Z a-z 0-9 _ -`. */
export const channelSchema = v.pipe(
  v.string("channel must be a string"),
  v.minLength(1, "channel must not be empty"),
  v.maxLength(limits.channelMaxChars, `channel must be at most ${limits.channelMaxChars} characters`),
  v.regex(CHANNEL_PATTERN, "channel may hold only A-Z, a-z, 0-9, '_' and '-'"),
);

/** The outcome of checking a name: the normalised value, or why it is refused. */
export type NameResult = { ok: true; value: string } | { ok: false; error: string };

function check(schema: typeof usernameSchema | typeof channelSchema, input: unknown): NameResult {
  const result = v.safeParse(schema, input);
  return result.success ? { ok: true, value: result.output } : { ok: false, error: result.issues[0].message };
}

/** Validates a username, trimmed and in NFC. */
export const parseUsername = (input: unknown): NameResult => check(usernameSchema, input);

/** Validates a channel name; an absent one (`undefined`) is the default channel, an empty one is refused. */
export const parseChannel = (input: unknown): NameResult =>
  input === undefined ? { ok: true, value: DEFAULT_CHANNEL } : check(channelSchema, input);

/** Counts code points, not UTF-16 units, as the protocol's limits do. */
export { codePoints };

/** Orders strings by Unicode code point (JavaScript's default sort orders UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const left = a[Symbol.iterator]();
  const right = b[Symbol.iterator]();
  for (;;) {
    const l = left.next();
    const r = right.next();
    if (l.done || r.done) return l.done === r.done ? 0 : l.done ? -1 : 1;
    const diff = (l.value.codePointAt(0) ?? 0) - (r.value.codePointAt(0) ?? 0);
    if (diff !== 0) return diff;
  }
}
