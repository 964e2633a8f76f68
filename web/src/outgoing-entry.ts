import { element } from "./dom.ts";
import type { Outgoing } from "./outbox.ts";

const STATE_TEXT: Record<Outgoing["state"], string> = {
  queued: "Waiting to send…",
  sending: "Sending…",
  failed: "Not sent.",
};

const REASON_TEXT = {
  refused: "Not sent: the chat refused it.",
  offline: "Not sent yet: the connection dropped. It goes again once the chat is back.",
  timeout: "Not sent: the chat did not answer.",
};

/**
 * The log entry of one of our messages on its way (`data-state` = queued / sending / failed). A failed one offers
 * Retry (every failed message, in order) and Discard.
 */
export function outgoingEntry(
  entry: Outgoing,
  actions: { retry(): void; discard(entry: Outgoing): void },
): HTMLLIElement {
  const item = element("li", "msg msg-own msg-outgoing");
  item.dataset.kind = "own";
  item.dataset.state = entry.state;
  item.dataset.key = String(entry.key);
  const status = element("p", "msg-status", entry.reason ? REASON_TEXT[entry.reason] : STATE_TEXT[entry.state]);
  item.append(element("p", "msg-text", entry.text), status);
  if (entry.state === "failed") {
    const retry = element("button", "msg-retry", "Retry");
    retry.type = "button";
    retry.addEventListener("click", () => actions.retry());
    const discard = element("button", "msg-discard", "Discard");
    discard.type = "button";
    discard.addEventListener("click", () => actions.discard(entry));
    status.append(" ", retry, " ", discard);
  }
  return item;
}
