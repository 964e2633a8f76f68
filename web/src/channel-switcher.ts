import { limits } from "../../lambda/core/limits.ts";
import { parseChannel } from "../../lambda/core/names.ts";

/**
 * The header's channel field: a valid name other than the current channel switches (`current` is `undefined` when
 * offline, so the same name then joins again); an invalid one is explained.
 */
export class ChannelSwitcher {
  readonly #form: HTMLFormElement;
  readonly #input: HTMLInputElement;

  constructor(
    form: HTMLFormElement,
    input: HTMLInputElement,
    hooks: { current: () => string | undefined; switchTo: (channel: string) => void; refuse: (error: string) => void },
  ) {
    this.#form = form;
    this.#input = input;
    input.maxLength = limits.channelMaxChars;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const checked = parseChannel(input.value.trim());
      if (!checked.ok) {
        input.setAttribute("aria-invalid", "true");
        return hooks.refuse(checked.error);
      }
      input.removeAttribute("aria-invalid");
      if (checked.value !== hooks.current()) hooks.switchTo(checked.value);
    });
  }

  /** Shows the switcher holding the current channel's name. */
  show(channel: string): void {
    this.#input.value = channel;
    this.#form.hidden = false;
  }

  /** Hides it (back at the join form). */
  hide(): void {
    this.#form.hidden = true;
  }
}
