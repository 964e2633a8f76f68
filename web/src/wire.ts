import type { OutboxHooks } from "./outbox.ts";

/**
 * The one frame on the wire that an error may answer. Error frames do not say what they answer (PROTOCOL §5), so the
 * page's outboxes (the channel's and one per direct conversation) and its member requests take turns: each sends only
 * while no other holds the wire, and the holder lets go once its frame is answered or given up.
 */
export class Wire {
  #holder: string | undefined;
  /** The holding outbox's entry on the wire. */
  #key: number | undefined;
  readonly #pumps = new Map<string, () => void>();

  /** Who holds the wire, if anyone. */
  get holder(): string | undefined {
    return this.#holder;
  }

  /** Takes the wire for `who` if it is free (or already theirs). */
  take(who: string): boolean {
    if (this.#holder !== undefined && this.#holder !== who) return false;
    this.#holder = who;
    return true;
  }

  /** `who` is answered: the wire is free, and those waiting for it are woken until one takes it. */
  release(who: string): void {
    if (this.#holder !== who) return;
    this.#holder = undefined;
    this.#key = undefined;
    for (const pump of this.#pumps.values()) if (this.#holder === undefined) pump();
  }

  /** Calls `pump` whenever the wire comes free, so what `who` holds back goes then. */
  waiting(who: string, pump: () => void): void {
    this.#pumps.set(who, pump);
  }

  /** An outbox's hooks that send only while the wire is free and let it go once the message on it is done. */
  guard(who: string, hooks: OutboxHooks, pump: () => void): OutboxHooks {
    this.waiting(who, pump);
    return {
      transmit: (text) => {
        const held = this.#holder === who;
        if (!this.take(who)) return false;
        if (hooks.transmit(text)) return true;
        // Nothing went (no connection): the wire is as it was, and nobody is woken, or the pumps would spin.
        if (!held) this.#holder = undefined;
        return false;
      },
      show: (entry) => {
        if (this.#holder === who) {
          if (entry.state === "sending") this.#key = entry.key;
          else if (entry.key === this.#key) this.release(who);
        }
        hooks.show(entry);
      },
      drop: (entry) => {
        if (this.#holder === who && entry.key === this.#key) this.release(who);
        hooks.drop(entry);
      },
    };
  }
}
