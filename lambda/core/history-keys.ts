/**
 * Sort keys of the history table. A history item is also one of its sender's rate slots:
 * `${window}#${connectionId}#${slot}`, where `window` = floor(timestamp / window length) counts windows aligned to the
 * epoch and `slot` runs from 0 to the rate's maximum − 1. Writing a message is claiming a free slot with a conditional
 * put, so the key itself enforces the rate; see {@link HistoryStore}.
 */

/** Digits of a window index: fits a 15-digit millisecond timestamp even with 1 ms windows, so strings sort as numbers. */
const WINDOW_DIGITS = 15;
/** Digits of a slot: at most 10,000 messages per window. */
const SLOT_DIGITS = 4;
/** The largest number of slots a window can have. */
export const MAX_SLOTS = 10 ** SLOT_DIGITS;

/** The epoch-aligned window a moment falls in. */
export const windowOf = (timestampMs: number, windowMs: number): number => Math.floor(timestampMs / windowMs);

/** A window's index as it starts every key of that window. */
export const windowKey = (window: number): string => String(window).padStart(WINDOW_DIGITS, "0");

/** The window part of a sort key. */
export const windowPartOf = (sortKey: string): string => sortKey.slice(0, WINDOW_DIGITS);

function checkConnectionId(connectionId: string): void {
  // API Gateway's ids are base64-like; a `#` would make one connection's prefix match another's keys.
  if (connectionId.length === 0 || connectionId.includes("#")) {
    throw new RangeError(`a connection id must be non-empty and free of "#": ${JSON.stringify(connectionId)}`);
  }
}

/** What every key of one connection in one window starts with. */
export function slotPrefix(window: number, connectionId: string): string {
  checkConnectionId(connectionId);
  return `${windowKey(window)}#${connectionId}#`;
}

/** The key of one slot. */
export function slotKey(window: number, connectionId: string, slot: number): string {
  if (!Number.isInteger(slot) || slot < 0 || slot >= MAX_SLOTS) throw new RangeError(`no slot ${slot}`);
  return `${slotPrefix(window, connectionId)}${String(slot).padStart(SLOT_DIGITS, "0")}`;
}

/** The slot of a key made by {@link slotKey}. */
export const slotOf = (sortKey: string): number => Number(sortKey.slice(-SLOT_DIGITS));
