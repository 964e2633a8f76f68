import type { MessageFrame } from "../../lambda/core/server-frames.ts";

/**
 * The messages of `incoming` not yet shown, in their order, each id at most once. A history answer after a reconnect
 * overlaps what the log already holds; the message id (PROTOCOL §5) is what makes them the same message.
 */
export function unseenMessages(known: ReadonlySet<string>, incoming: readonly MessageFrame[]): MessageFrame[] {
  const seen = new Set(known);
  const fresh: MessageFrame[] = [];
  for (const message of incoming) {
    if (seen.has(message.id)) continue;
    seen.add(message.id);
    fresh.push(message);
  }
  return fresh;
}
