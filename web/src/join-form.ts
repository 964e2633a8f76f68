import { parseChannel, parseUsername } from "../../lambda/core/names.ts";
import { CHANNEL_RULE, channelProblem, USERNAME_RULE, usernameProblem } from "./wording.ts";

/** A username and channel that passed the protocol's name rules. */
export interface JoinRequest {
  readonly username: string;
  readonly channel: string;
}

/**
 * Checks a username and channel with the server's own rules (PROTOCOL "Names and limits"), explained in sentences;
 * an absent channel is the default one, an empty one is refused, as for the connect parameter.
 */
export function checkJoin(
  username: string,
  channel: string | undefined,
): { ok: true; join: JoinRequest } | { ok: false; error: string } {
  const name = parseUsername(username);
  if (!name.ok) return { ok: false, error: usernameProblem(username) ?? name.error };
  const room = parseChannel(channel);
  if (!room.ok) return { ok: false, error: channelProblem(channel ?? "") ?? room.error };
  return { ok: true, join: { username: name.value, channel: room.value } };
}

/** One input with its rule shown underneath and, once broken, its problem in place of the rule. */
class Field {
  constructor(
    readonly input: HTMLInputElement,
    readonly hint: HTMLElement,
    readonly rule: string,
    readonly problem: (value: string) => string | undefined,
  ) {
    hint.textContent = rule;
    // Said as the person types, not only on submit: a name too long is reported, never cut (no maxlength).
    input.addEventListener("input", () => this.check(false));
  }

  /** Shows the problem of the current value, or the rule again; `empty` also reports an empty field. */
  check(empty: boolean): boolean {
    const value = this.input.value;
    const problem = value.trim() === "" && !empty ? undefined : this.problem(value);
    this.hint.textContent = problem ?? this.rule;
    this.hint.classList.toggle("field-problem", problem !== undefined);
    if (problem) this.input.setAttribute("aria-invalid", "true");
    else this.input.removeAttribute("aria-invalid");
    return problem === undefined;
  }
}

/** The "Join a channel" form: the rules under each field, problems said as they appear, a valid request handed on. */
export class JoinForm {
  readonly #section: HTMLElement;
  readonly #username: Field;
  readonly #channel: Field;
  readonly #error: HTMLElement;

  constructor(
    section: HTMLElement,
    form: HTMLFormElement,
    fields: {
      username: HTMLInputElement;
      usernameHint: HTMLElement;
      channel: HTMLInputElement;
      channelHint: HTMLElement;
      error: HTMLElement;
    },
    onJoin: (join: JoinRequest) => void,
  ) {
    this.#section = section;
    this.#username = new Field(fields.username, fields.usernameHint, USERNAME_RULE, usernameProblem);
    // An emptied channel field means the default channel, as the field's initial value suggests.
    this.#channel = new Field(fields.channel, fields.channelHint, CHANNEL_RULE, (value) =>
      value.trim() === "" ? undefined : channelProblem(value.trim()),
    );
    this.#error = fields.error;
    for (const input of [fields.username, fields.channel]) input.addEventListener("input", () => this.hideError());
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const nameOk = this.#username.check(true);
      const channelOk = this.#channel.check(true);
      if (!nameOk || !channelOk) {
        (nameOk ? this.#channel : this.#username).input.focus();
        return;
      }
      const channel = this.#channel.input.value.trim();
      const checked = checkJoin(this.#username.input.value, channel === "" ? undefined : channel);
      if (!checked.ok) return this.showError(checked.error);
      this.hideError();
      onJoin(checked.join);
    });
  }

  /** Shows the form, prefilled, with `error` if there is one, and focuses the username (selected, to retype it). */
  show(prefill: Partial<JoinRequest> = {}, error?: string): void {
    if (prefill.username !== undefined) this.#username.input.value = prefill.username;
    if (prefill.channel !== undefined) this.#channel.input.value = prefill.channel;
    this.#section.hidden = false;
    this.#username.check(false);
    this.#channel.check(false);
    if (error) this.showError(error);
    else this.hideError();
    this.#username.input.focus();
    this.#username.input.select();
  }

  /** Hides the form (joined). */
  hide(): void {
    this.#section.hidden = true;
  }

  /** Shows why the names were refused (by the session endpoint, or on submit). */
  showError(error: string): void {
    this.#error.textContent = error;
    this.#error.hidden = false;
  }

  /** Takes the error down: its cause (the names typed) changed. */
  hideError(): void {
    this.#error.hidden = true;
    this.#error.textContent = "";
  }
}
