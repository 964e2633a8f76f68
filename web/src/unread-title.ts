/**
 * The tab's title: the channel, and while the tab is hidden the number of messages that came meanwhile
 * ("(3) #support · Channel chat"), cleared when the reader comes back (Page Visibility API).
 */
export class UnreadTitle {
  #base = document.title;
  #unread = 0;

  constructor() {
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.#set(0);
    });
  }

  /** The title without a count. */
  set base(title: string) {
    this.#base = title;
    this.#set(0);
  }

  /** `count` messages from others arrived; they count only while the tab is hidden. */
  arrived(count: number): void {
    if (document.hidden && count > 0) this.#set(this.#unread + count);
  }

  #set(unread: number): void {
    this.#unread = unread;
    document.title = unread > 0 ? `(${unread}) ${this.#base}` : this.#base;
  }
}
