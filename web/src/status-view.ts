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
  readonly #retry: HTMLButtonElement;
  #ticker: ReturnType<typeof setInterval> | undefined;

  /** `retry` is the "Retry now" button, shown while a reconnect waits out its backoff. */
  constructor(node: HTMLElement, retry: HTMLButtonElement, retryNow: () => void) {
    this.#node = node;
    this.#retry = retry;
    retry.addEventListener("click", () => retryNow());
  }

  /** Shows `state`. */
  render(state: ConnectionState): void {
    clearInterval(this.#ticker);
    this.#node.dataset.state = state.kind;
    this.#retry.hidden = state.kind !== "reconnecting";
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

/** How long a notice without a cause stays up. */
const NOTICE_MS = 8_000;

/**
 * The line above the composer for problems (`data-code` holds the server's error code when there is one). A notice
 * with a `cause` stays until that cause is gone ({@link NoticeView.clear}); one without goes after a few seconds.
 */
export class NoticeView {
  readonly #node: HTMLElement;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #cause: string | undefined;

  constructor(node: HTMLElement) {
    this.#node = node;
  }

  /** Shows `text`; `cause` names what it is about, so that fixing it takes the notice down. */
  show(text: string, options: { code?: string; cause?: string } = {}): void {
    clearTimeout(this.#timer);
    this.#node.textContent = text;
    this.#node.dataset.code = options.code ?? "";
    this.#cause = options.cause;
    this.#node.hidden = false;
    if (options.cause === undefined) this.#timer = setTimeout(() => this.hide(), NOTICE_MS);
  }

  /** Takes the notice down if it is about `cause`. */
  clear(cause: string): void {
    if (this.#cause === cause) this.hide();
  }

  /** Takes the notice down. */
  hide(): void {
    clearTimeout(this.#timer);
    this.#cause = undefined;
    this.#node.hidden = true;
    this.#node.textContent = "";
  }
}
