import type { ErrorCode } from "../../lambda/core/client-frames.ts";
import { limits } from "../../lambda/core/limits.ts";
import { codePoints, parseChannel, parseUsername, SERVER_NAME } from "../../lambda/core/names.ts";
import type { PageKind } from "./history-pager.ts";

// The symbols are joined by no-break spaces so that "_ . or -" never breaks across lines.
const NAME_CHARS = "letters, digits, spaces, _\u00a0.\u00a0or\u00a0-";
const CHANNEL_CHARS = "A–Z, a–z, digits, _\u00a0or\u00a0-";

/** The username rule, shown under the field before it is broken. */
export const USERNAME_RULE = `Up to ${limits.usernameMaxChars} characters. Use ${NAME_CHARS}`;
/** The channel rule, shown under the field before it is broken. */
export const CHANNEL_RULE = `Up to ${limits.channelMaxChars} characters. Use ${CHANNEL_CHARS}`;

const USERNAME_CHAR = /^[\p{L}\p{M}\p{Nd} _.-]$/u;
const CHANNEL_CHAR = /^[A-Za-z0-9_-]$/;

/** The characters of `text` that `allowed` refuses, each once, quoted for a sentence. */
function refused(text: string, allowed: RegExp): string {
  const bad = [...new Set([...text].filter((char) => !allowed.test(char)))];
  return bad.map((char) => (char.trim() === "" ? "that space" : `“${char}”`)).join(", ");
}

/**
 * Why `input` is not a username, in a sentence, or `undefined` when it is one. The checks are the server's own
 * (`parseUsername`); this only finds words for the one that failed.
 */
export function usernameProblem(input: string): string | undefined {
  if (parseUsername(input).ok) return undefined;
  const name = input.trim();
  if (name === "") return "Enter a name to chat under.";
  const length = codePoints(name);
  if (length > limits.usernameMaxChars)
    return `That name has ${length} characters; a name can have at most ${limits.usernameMaxChars}.`;
  if (name === SERVER_NAME) return "That name is kept for the server's notices. Choose another.";
  const bad = refused(name, USERNAME_CHAR);
  return bad ? `A name cannot contain ${bad}. Use ${NAME_CHARS}` : "Choose another name.";
}

/** Why `input` is not a channel name, in a sentence, or `undefined` when it is one. */
export function channelProblem(input: string): string | undefined {
  if (parseChannel(input).ok) return undefined;
  if (input === "") return "Enter a channel name.";
  if (input.length > limits.channelMaxChars)
    return `That channel name has ${input.length} characters; a channel name can have at most ${limits.channelMaxChars}.`;
  const bad = refused(input, CHANNEL_CHAR);
  return bad ? `A channel name cannot contain ${bad}. Use ${CHANNEL_CHARS}` : "Choose another channel name.";
}

/** The server's own words ("only the channel's owner can invite") as a sentence. */
export const asSentence = (text: string): string => {
  const trimmed = text.trim();
  return `${trimmed.charAt(0).toUpperCase()}${trimmed.slice(1)}${/[.!?]$/.test(trimmed) ? "" : "."}`;
};

/**
 * What the server's refusal (an error frame's code, PROTOCOL §5) means for the person who wrote it. A `forbidden`
 * refusal says why in its `message` (only the owner may invite, a removed member), so that is the sentence.
 */
export function refusalSentence(code: ErrorCode, message?: string): string {
  if (code === "forbidden" && message) return asSentence(message);
  switch (code) {
    case "rate_limited":
      return "You are sending faster than the chat allows.";
    case "too_large":
      return `That message is too long: a message can have at most ${limits.messageMaxChars.toLocaleString()} characters.`;
    case "bad_request":
    case "unknown_action":
      return "The chat could not read that request. Reloading the page may help.";
    case "forbidden":
      return "You are not allowed to do that here.";
    case "internal":
      return "Something went wrong on the chat's side.";
  }
}

/** Why the session endpoint refused `username`, in a sentence (the page checks the same rules first, so rarely). */
export const sessionRefusalSentence = (username: string): string =>
  usernameProblem(username) ?? `The chat did not accept the name “${username}”. Try another.`;

/** The refusal of one of our messages and what to do: it is `"back"` in the box, or `"kept"` in the log with Retry. */
export function refusedMessageSentence(code: ErrorCode, where: "back" | "kept", message?: string): string {
  const wait = code === "rate_limited" || code === "internal";
  if (where === "back")
    return `${refusalSentence(code, message)} Your message is back in the box${wait ? ": send it again in a few seconds." : "."}`;
  return `${refusalSentence(code, message)} ${wait ? "In a few seconds, press" : "Press"} Retry on the message to send it again, or Discard it.`;
}

/** A history page given up after being refused again and again: which messages are missing from view. */
export function historyFailedSentence(kind: PageKind): string {
  const which =
    kind === "before"
      ? "Older messages"
      : kind === "after"
        ? "Some messages sent while you were away"
        : "The latest messages";
  return `${which} could not be loaded: the chat is busy or not answering. Reload the page to try again.`;
}
