import { element } from "./dom.ts";

/**
 * The "Online" panel: a count in its summary and one item per user (the server lists each user once, however many
 * tabs they have open, PROTOCOL §3), ours marked. While the connection is down the list is marked as not current.
 */
export class PresenceView {
  readonly #panel: HTMLElement;
  readonly #summary: HTMLElement;
  readonly #list: HTMLUListElement;
  readonly #stale: HTMLElement;
  #count = 0;
  #shown: { users: readonly string[]; me: string | undefined } = { users: [], me: undefined };
  /** Set: another user's name is a button that starts a direct message with them. */
  message: ((user: string) => void) | undefined;
  /** More buttons for a user other than us (remove from a private channel). */
  actions: (user: string) => HTMLElement[] = () => [];

  constructor(panel: HTMLElement, summary: HTMLElement, list: HTMLUListElement, stale: HTMLElement) {
    this.#panel = panel;
    this.#summary = summary;
    this.#list = list;
    this.#stale = stale;
  }

  /** Shows `users` (unique, sorted); `count` is everyone, when the server lists only the first ones. */
  render(users: readonly string[], me: string | undefined, count = users.length): void {
    this.#count = Math.max(count, users.length);
    this.#shown = { users, me };
    this.#list.replaceChildren(
      ...users.map((user) => {
        const item = element("li", "presence-user");
        item.dataset.user = user;
        const message = this.message;
        if (user === me || !message) {
          item.append(element("span", "presence-name", user));
        } else {
          const name = element("button", "presence-name", user);
          name.type = "button";
          name.title = `Message ${user}`;
          name.setAttribute("aria-label", name.title);
          name.addEventListener("click", () => message(user));
          item.append(name);
        }
        if (user === me) {
          item.classList.add("presence-me");
          item.append(element("span", "presence-you", " (you)"));
        } else {
          item.append(...this.actions(user));
        }
        return item;
      }),
    );
    const hidden = this.#count - users.length;
    if (hidden > 0) this.#list.append(element("li", "presence-more", `and ${hidden.toLocaleString()} more`));
    this.#label();
  }

  /** Draws the same list again (the actions changed). */
  refresh(): void {
    this.render(this.#shown.users, this.#shown.me, this.#count);
  }

  /** Marks the list as not current (offline: people may have come and gone) or current again. */
  setStale(stale: boolean): void {
    if (stale) this.#panel.dataset.stale = "true";
    else delete this.#panel.dataset.stale;
    this.#stale.hidden = !stale;
    this.#label();
  }

  #label(): void {
    const stale = this.#panel.dataset.stale === "true";
    this.#summary.textContent = stale ? `Last seen online (${this.#count})` : `Online (${this.#count})`;
  }
}
