const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });

/** The local calendar day of `ms`, as a key that two instants of the same day share. */
export const dayKey = (ms: number): string => new Date(ms).toDateString();

/** A divider's words for the day of `timestamp`: "Today", "Yesterday", or the date. */
export function dayLabel(timestamp: number, now: number): string {
  if (dayKey(timestamp) === dayKey(now)) return "Today";
  const yesterday = new Date(now);
  yesterday.setDate(yesterday.getDate() - 1);
  if (dayKey(timestamp) === dayKey(yesterday.getTime())) return "Yesterday";
  return dayFormat.format(timestamp);
}
