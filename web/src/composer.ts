import { chatMessage } from "../../lambda/core/client-frames.ts";
import { limits } from "../../lambda/core/limits.ts";
import { codePoints } from "../../lambda/core/names.ts";
import { loadDraft, saveDraft } from "./drafts.ts";

/** The counter's reading for a draft: code points after trimming, as the server counts (PROTOCOL "Names and limits"). */
export function draftLength(text: string): { count: number; over: boolean } {
  const count = codePoints(text.trim());
  return { count, over: count > limits.messageMaxChars };
}

/** What the composer needs from the page. */
export interface ComposerHooks {
  /** Takes one chat message on its way (the outbox); the box is already cleared. */
  send(message: string): void;
  /** The draft is over the length limit (`true`) or no longer is (`false`). */
  tooLong(over: boolean): void;
}

/**
 * The message box. Enter hands the message to the outbox and clears the box at once, so typing on can never merge
 * with or repeat what was sent; what the server refuses comes back through the log (or into this box when it is
 * empty, {@link Composer.restore}). The draft of each channel is kept across reloads.
 */
export class Composer {
  readonly #input: HTMLTextAreaElement;
  readonly #counter: HTMLElement;
  readonly #hooks: ComposerHooks;
  #channel: string | undefined;

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
      this.#submit();
    });
    input.addEventListener("input", () => this.#changed());
    this.#count();
  }

  /** Whether the box is empty (a refused message may then come back into it). */
  get empty(): boolean {
    return this.#input.value.trim() === "";
  }

  /** Switches to `channel`'s draft, keeping the current one for its channel. */
  useChannel(channel: string): void {
    if (this.#channel !== undefined) saveDraft(this.#channel, this.#input.value);
    this.#channel = channel;
    this.#input.value = loadDraft(channel);
    this.#changed();
  }

  /** Puts `text` back in the box (a refused message, or unsent ones when leaving a channel). */
  restore(text: string): void {
    this.#input.value = this.empty ? text : `${text}\n${this.#input.value}`;
    this.#changed();
  }

  /** Puts the caret in the box. */
  focus(): void {
    this.#input.focus();
  }

  #submit(): void {
    const checked = chatMessage(this.#input.value);
    if (!checked.ok || checked.request.action !== "send") return; // an empty or too long box just stays (see tooLong)
    this.#input.value = "";
    this.#changed();
    this.#hooks.send(checked.request.message);
  }

  #changed(): void {
    if (this.#channel !== undefined) saveDraft(this.#channel, this.#input.value);
    this.#count();
  }

  #count(): void {
    const { count, over } = draftLength(this.#input.value);
    this.#counter.textContent = `${count.toLocaleString()} / ${limits.messageMaxChars.toLocaleString()}`;
    this.#counter.classList.toggle("char-count-over", over);
    this.#input.setAttribute("aria-invalid", String(over));
    this.#hooks.tooLong(over);
  }
}
