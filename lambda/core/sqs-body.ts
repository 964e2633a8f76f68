/**
 * The characters SQS accepts in a message body: `#x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF`
 * (the XML 1.0 character set). Anything else — the other C0 controls, lone surrogates, U+FFFE, U+FFFF — makes
 * `SendMessage` and each such entry of `SendMessageBatch` fail with `InvalidMessageContents` (AWS doc "SendMessage",
 * Amazon SQS API Reference). With the `u` flag a lone surrogate is one code point, so it matches as itself.
 */
const OUTSIDE_SQS = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const OUTSIDE_SQS_ALL = new RegExp(OUTSIDE_SQS.source, "gu");

/** Where `body` has its first character SQS refuses, or -1 when SQS takes it whole. */
export function firstInvalidSqsCharacter(body: string): number {
  return body.search(OUTSIDE_SQS);
}

/** Whether SQS accepts `body` as a message body, character-wise. */
export const isValidSqsBody = (body: string): boolean => firstInvalidSqsCharacter(body) === -1;

const escapeUnit = (unit: string): string => `\\u${unit.charCodeAt(0).toString(16).padStart(4, "0")}`;

/**
 * `value` as JSON that SQS accepts whatever strings it holds: `JSON.stringify` already escapes the C0 controls and
 * lone surrogates, and every other character outside SQS's set (U+FFFE, U+FFFF) is written as a `\uXXXX` escape too.
 * Such characters can only stand inside JSON strings, where the escape means the same: `JSON.parse` gives back the
 * same value.
 */
export function sqsSafeJson(value: unknown): string {
  const json = JSON.stringify(value);
  return OUTSIDE_SQS.test(json) ? json.replace(OUTSIDE_SQS_ALL, escapeUnit) : json;
}
