import { chatMessage } from "../../lambda/core/client-frames.ts";
import { limits } from "../../lambda/core/limits.ts";
import { codePoints } from "../../lambda/core/names.ts";

/** If neither our message nor an error comes back within this, the draft is free to be sent again. */
const PENDING_MS = 10_000;

/** The counter's reading for a draft: code points after trimming, as the server counts (PROTOCOL "Names and limits"). */
export function draftLength(text: string): { count: number; over: boolean } {
  const count = codePoints(text.trim());
  return { count, over: count > limits.messageMaxChars };
}

/** What the composer needs from the page. */
export interface ComposerHooks {
  /** Sends one chat message; `false` when there is no open connection to send it on. */
  send(message: string): boolean;
  /** Tells the user why a draft was not sent. */
  notify(text: string, code?: string): void;
}

/**
 * The message box. A sent draft stays in the box until the server echoes it back to us (every member gets each
 * message, the sender included, PROTOCOL §5): an error frame (rate_limited, too_large) or a dropped connection then
 * cannot lose the text, and there is nothing to restore. The echo clears the box only if it still holds what was sent,
 * so typing on meanwhile is not thrown away. While one draft is in flight another Enter does nothing, so a double
 * press cannot post twice.
 */
export class Composer {
  readonly #input: HTMLTextAreaElement;
  readonly #counter: HTMLElement;
  readonly #hooks: ComposerHooks;
  #pending: { message: string; draft: string; timer: ReturnType<typeof setTimeout> } | undefined;

  constructor(form: HTMLFormElement, input: HTMLTextAreaElement, counter: HTMLElement, hooks: ComposerHooks) {
    this.#input = input;
    this.#counter = counter;
    this.#hooks = hooks;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#submit();
    });
    input.addEventListener("keydown", (event) => {
      // Enter sends; Shift+Enter is a new line; Enter that confirms an IME composition is neither.
      if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
      event.preventDefault();
      form.requestSubmit();
    });
    input.addEventListener("input", () => this.#count());
    this.#count();
  }

  /** The server echoed one of our messages: if it is the draft in flight, the box is cleared. */
  confirm(message: string): void {
    const pending = this.#pending;
    if (!pending || pending.message !== message) return;
    this.#settle();
    if (this.#input.value === pending.draft) {
      this.#input.value = "";
      this.#count();
    }
  }

  /** The server refused something, or the connection dropped: the draft stays for another try. Was one in flight? */
  reject(): boolean {
    const inFlight = this.#pending !== undefined;
    this.#settle();
    return inFlight;
  }

  /** Puts the caret in the box. */
  focus(): void {
    this.#input.focus();
  }

  #submit(): void {
    if (this.#pending) return;
    const draft = this.#input.value;
    const checked = chatMessage(draft);
    if (!checked.ok) {
      if (checked.refusal.code === "too_large") this.#hooks.notify(checked.refusal.message, checked.refusal.code);
      return; // an empty box just does nothing
    }
    if (checked.request.action !== "send") return;
    const { message } = checked.request;
    if (!this.#hooks.send(message)) {
      this.#hooks.notify("Not connected: your message is kept and can be sent once the chat is back online.");
      return;
    }
    this.#pending = { message, draft, timer: setTimeout(() => this.#settle(), PENDING_MS) };
    this.#input.setAttribute("aria-busy", "true");
  }

  #settle(): void {
    clearTimeout(this.#pending?.timer);
    this.#pending = undefined;
    this.#input.removeAttribute("aria-busy");
  }

  #count(): void {
    const { count, over } = draftLength(this.#input.value);
    this.#counter.textContent = `${count} / ${limits.messageMaxChars}`;
    this.#counter.classList.toggle("char-count-over", over);
    this.#input.setAttribute("aria-invalid", String(over));
  }
}
