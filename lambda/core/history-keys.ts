/**
 * Sort keys of the history table: `${timestamp}#${id}`, the timestamp in epoch milliseconds padded to 15 digits, so
 * keys sort exactly as PROTOCOL §4 orders history (by timestamp, then by id) and a page is one key range read in
 * order. A message's key is also how a `before`/`after` cursor names it.
 */

/** Digits of a timestamp in a key: epoch milliseconds have 13 until the year 2286. */
const TIMESTAMP_DIGITS = 15;

/** The key of a message, or of a cursor naming one. */
export function historyKey(timestamp: number, id: string): string {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new RangeError(`no timestamp ${timestamp}`);
  return `${timeKey(timestamp)}#${id}`;
}

/** The part of every key at `timestamp`: shorter than, and so sorting before, the keys of messages at that time. */
export const timeKey = (timestamp: number): string =>
  String(Math.max(0, Math.floor(timestamp))).padStart(TIMESTAMP_DIGITS, "0");
