import type { ConnectionState } from "./chat-client.ts";
import { element } from "./dom.ts";

/** The status line's words for a connection state, without the countdown of a scheduled reconnect. */
export function statusLabel(state: ConnectionState): string {
  switch (state.kind) {
    case "idle":
      return "Not connected";
    case "connecting":
      return "Connecting…";
    case "online":
      return "Online";
    case "reconnecting":
      return "Reconnecting";
    case "offline":
      return "Offline";
  }
}

/** " in 3 s" until a scheduled reconnect at `at`. */
export const countdownText = (at: number, now: number): string => ` in ${Math.max(0, Math.ceil((at - now) / 1_000))} s`;

/**
 * The connection status (`data-state` = idle | connecting | online | reconnecting | offline). The reconnect countdown
 * ticks once a second in an `aria-hidden` part, so screen readers hear each change of state once, not every tick.
 */
export class StatusView {
  readonly #node: HTMLElement;
  #ticker: ReturnType<typeof setInterval> | undefined;

  constructor(node: HTMLElement) {
    this.#node = node;
  }

  /** Shows `state`. */
  render(state: ConnectionState): void {
    clearInterval(this.#ticker);
    this.#node.dataset.state = state.kind;
    const label = element("span", "status-label", statusLabel(state));
    if (state.kind !== "reconnecting") {
      this.#node.replaceChildren(label);
      return;
    }
    const countdown = element("span", "status-countdown");
    countdown.setAttribute("aria-hidden", "true");
    const tick = () => {
      countdown.textContent = countdownText(state.at, Date.now());
    };
    tick();
    this.#node.replaceChildren(label, countdown);
    this.#ticker = setInterval(tick, 1_000);
  }
}

/** How long a notice (an error frame, a refused draft) stays up. */
const NOTICE_MS = 6_000;

/** The brief line above the composer for errors; `data-code` holds the error code when there is one. */
export class NoticeView {
  readonly #node: HTMLElement;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(node: HTMLElement) {
    this.#node = node;
  }

  /** Shows `text` for a few seconds. */
  show(text: string, code = ""): void {
    clearTimeout(this.#timer);
    this.#node.textContent = text;
    this.#node.dataset.code = code;
    this.#node.hidden = false;
    this.#timer = setTimeout(() => this.hide(), NOTICE_MS);
  }

  /** Takes the notice down. */
  hide(): void {
    clearTimeout(this.#timer);
    this.#node.hidden = true;
    this.#node.textContent = "";
  }
}
