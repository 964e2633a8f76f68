import { parseUsername } from "../../lambda/core/names.ts";
import type { Conversation } from "./conversations.ts";
import { element } from "./dom.ts";
import { usernameProblem } from "./wording.ts";

/** The elements of the "Direct messages" panel. */
export interface ConversationListParts {
  readonly panel: HTMLDetailsElement;
  readonly summary: HTMLElement;
  readonly list: HTMLUListElement;
  /** The "Message someone" form, its field and the line under it. */
  readonly form: HTMLFormElement;
  readonly input: HTMLInputElement;
  readonly hint: HTMLElement;
}

const HINT = "Their name, as they chat under it";

/** An unread count badge ("3", read out as "3 unread"). */
export function unreadBadge(count: number): HTMLElement {
  const badge = element("span", "unread-badge", String(count));
  badge.append(element("span", "visually-hidden", " unread"));
  return badge;
}

/**
 * The "Direct messages" panel: the conversations, newest activity first, each a button with its unread count
 * (`li[data-with][data-unread]`, the open one `aria-current`), and a form to message someone by name.
 */
export class ConversationList {
  readonly #parts: ConversationListParts;
  readonly #open: (peer: string) => void;

  /** `open` shows the conversation with a user; `me` is our name (a conversation with oneself is refused). */
  constructor(parts: ConversationListParts, open: (peer: string) => void, me: () => string | undefined) {
    this.#parts = parts;
    this.#open = open;
    const { form, input, hint } = parts;
    hint.textContent = HINT;
    const problem = (text: string | undefined) => {
      hint.textContent = text ?? HINT;
      hint.classList.toggle("field-problem", text !== undefined);
      if (text) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    };
    input.addEventListener("input", () => problem(undefined));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const name = parseUsername(input.value);
      if (!name.ok) return problem(usernameProblem(input.value));
      if (name.value === me()) return problem("That is you: direct messages go to someone else.");
      input.value = "";
      problem(undefined);
      open(name.value);
    });
    // Wide screens show the panel beside the log; on a phone it sits folded above it.
    parts.panel.open = matchMedia("(min-width: 48rem)").matches;
  }

  /** Shows `items`; `current` is the conversation open, if any. */
  render(items: readonly Conversation[], current: string | undefined): void {
    const { list, summary } = this.#parts;
    let unread = 0;
    list.replaceChildren(
      ...items.map((item) => {
        unread += item.unread;
        const entry = element("li", "conversation");
        entry.dataset.with = item.with;
        entry.dataset.unread = String(item.unread);
        const button = element("button", "conversation-button");
        button.type = "button";
        button.append(element("span", "conversation-name", item.with));
        if (item.unread > 0) button.append(unreadBadge(item.unread));
        if (item.with === current) button.setAttribute("aria-current", "true");
        button.addEventListener("click", () => this.#open(item.with));
        entry.append(button);
        return entry;
      }),
    );
    summary.replaceChildren("Direct messages");
    if (unread > 0) summary.append(" ", unreadBadge(unread));
  }
}
