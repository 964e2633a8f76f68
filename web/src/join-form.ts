import { limits } from "../../lambda/core/limits.ts";
import { parseChannel, parseUsername } from "../../lambda/core/names.ts";

/** A username and channel that passed the protocol's name rules. */
export interface JoinRequest {
  readonly username: string;
  readonly channel: string;
}

/**
 * Checks a username and channel with the server's own rules (PROTOCOL "Names and limits"); an absent channel is the
 * default one, an empty one is refused, as for the connect parameter.
 */
export function checkJoin(
  username: string,
  channel: string | undefined,
): { ok: true; join: JoinRequest } | { ok: false; error: string } {
  const name = parseUsername(username);
  if (!name.ok) return name;
  const room = parseChannel(channel);
  if (!room.ok) return room;
  return { ok: true, join: { username: name.value, channel: room.value } };
}

/** The "Join a channel" form: validates on submit, shows the first problem, and hands a valid request on. */
export class JoinForm {
  readonly #section: HTMLElement;
  readonly #username: HTMLInputElement;
  readonly #channel: HTMLInputElement;
  readonly #error: HTMLElement;

  constructor(
    section: HTMLElement,
    form: HTMLFormElement,
    fields: { username: HTMLInputElement; channel: HTMLInputElement; error: HTMLElement },
    onJoin: (join: JoinRequest) => void,
  ) {
    this.#section = section;
    this.#username = fields.username;
    this.#channel = fields.channel;
    this.#error = fields.error;
    this.#channel.maxLength = limits.channelMaxChars;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      // An emptied channel field means the default channel, as the field's initial value suggests.
      const channel = this.#channel.value.trim();
      const checked = checkJoin(this.#username.value, channel === "" ? undefined : channel);
      if (!checked.ok) return this.showError(checked.error);
      this.#error.hidden = true;
      this.#username.removeAttribute("aria-invalid");
      onJoin(checked.join);
    });
  }

  /** Shows the form, prefilled, with `error` if there is one, and focuses the username. */
  show(prefill: Partial<JoinRequest> = {}, error?: string): void {
    if (prefill.username !== undefined) this.#username.value = prefill.username;
    if (prefill.channel !== undefined) this.#channel.value = prefill.channel;
    this.#section.hidden = false;
    if (error) this.showError(error);
    this.#username.focus();
  }

  /** Hides the form (joined). */
  hide(): void {
    this.#section.hidden = true;
  }

  /** Shows why the names were refused. */
  showError(error: string): void {
    this.#error.textContent = error;
    this.#error.hidden = false;
    this.#username.setAttribute("aria-invalid", "true");
  }
}
