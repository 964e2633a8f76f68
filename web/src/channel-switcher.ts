import { parseChannel } from "../../lambda/core/names.ts";
import { CHANNEL_RULE, channelProblem } from "./wording.ts";

/** What the switcher needs from the page. */
export interface SwitcherHooks {
  /** The channel joined, or `undefined` when offline (the same name then joins again). */
  current(): string | undefined;
  switchTo(channel: string): void;
  /** The name typed is not a channel name (`problem`), or is one again (`undefined`). */
  problem(problem: string | undefined): void;
}

/**
 * The header's channel field: a valid name other than the current channel switches; an invalid one is explained as it
 * is typed (a name too long is reported, never cut), and the explanation goes once the name is fixed.
 */
export class ChannelSwitcher {
  readonly #form: HTMLFormElement;
  readonly #input: HTMLInputElement;

  /** `rule` is read out with the field (it has no room to show the rule under it, as the join form does). */
  constructor(form: HTMLFormElement, input: HTMLInputElement, rule: HTMLElement, hooks: SwitcherHooks) {
    this.#form = form;
    this.#input = input;
    rule.textContent = CHANNEL_RULE;
    const check = (): string | undefined => {
      const problem = channelProblem(input.value.trim());
      if (problem) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
      hooks.problem(problem);
      return problem;
    };
    input.addEventListener("input", () => {
      if (input.value.trim() !== "") check();
      else hooks.problem(undefined);
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (check()) return;
      const checked = parseChannel(input.value.trim());
      if (checked.ok && checked.value !== hooks.current()) hooks.switchTo(checked.value);
    });
  }

  /** Shows the switcher holding the current channel's name. */
  show(channel: string): void {
    this.#input.value = channel;
    this.#input.removeAttribute("aria-invalid");
    this.#form.hidden = false;
  }

  /** Hides it (back at the join form). */
  hide(): void {
    this.#form.hidden = true;
  }
}
