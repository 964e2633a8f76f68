/**
 * The tab's title: the channel, and while the tab is hidden the number of messages that came meanwhile
 * ("(3) #support · Channel chat"), cleared when the reader comes back (Page Visibility API), plus the direct messages
 * not read yet.
 */
export class UnreadTitle {
  #base = document.title;
  #unread = 0;
  #direct = 0;

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

  /** Direct messages not read yet, in conversations not shown (counted whether or not the tab is hidden). */
  set direct(count: number) {
    this.#direct = count;
    this.#set(this.#unread);
  }

  #set(unread: number): void {
    this.#unread = unread;
    const shown = unread + this.#direct;
    document.title = shown > 0 ? `(${shown}) ${this.#base}` : this.#base;
  }
}
