import type { ChannelSwitcher } from "./channel-switcher.ts";
import type { JoinForm, JoinRequest } from "./join-form.ts";

/** The parts of the page that belong to the chat view, beside the join form. */
export interface ChatParts {
  readonly chat: HTMLElement;
  readonly whoami: HTMLElement;
  readonly account: HTMLElement;
  readonly switcher: ChannelSwitcher;
  readonly joinForm: JoinForm;
}

/** Shows either the chat view (header: where and as whom, switcher, leave / change name) or the join form. */
export class Screens {
  readonly #parts: ChatParts;

  constructor(parts: ChatParts) {
    this.#parts = parts;
  }

  /** The chat view for `join`. */
  showChat(join: JoinRequest): void {
    const { chat, whoami, account, switcher, joinForm } = this.#parts;
    joinForm.hide();
    chat.hidden = false;
    whoami.hidden = false;
    account.hidden = false;
    whoami.textContent = `#${join.channel} as ${join.username}`;
    switcher.show(join.channel);
  }

  /** Neither: OIDC mode's sign-in screen stands alone. */
  showNone(): void {
    const { chat, whoami, account, switcher, joinForm } = this.#parts;
    chat.hidden = true;
    whoami.hidden = true;
    account.hidden = true;
    switcher.hide();
    joinForm.hide();
  }

  /** The join form, prefilled, with `error` if any. */
  showJoin(prefill: Partial<JoinRequest>, error?: string): void {
    const { chat, whoami, account, switcher, joinForm } = this.#parts;
    chat.hidden = true;
    whoami.hidden = true;
    account.hidden = true;
    switcher.hide();
    joinForm.show(prefill, error);
  }
}
