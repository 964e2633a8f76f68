import { element } from "./dom.ts";

/** The "Online" panel: a count in its summary and one item per user, ours marked. */
export class PresenceView {
  readonly #summary: HTMLElement;
  readonly #list: HTMLUListElement;

  constructor(summary: HTMLElement, list: HTMLUListElement) {
    this.#summary = summary;
    this.#list = list;
  }

  /** Shows `users` (already unique and sorted); `me` gets a "(you)" mark. */
  render(users: readonly string[], me: string | undefined): void {
    this.#summary.textContent = `Online (${users.length})`;
    this.#list.replaceChildren(
      ...users.map((user) => {
        const item = element("li", "presence-user", user);
        item.dataset.user = user;
        if (user === me) {
          item.classList.add("presence-me");
          item.append(element("span", "presence-you", " (you)"));
        }
        return item;
      }),
    );
  }
}
