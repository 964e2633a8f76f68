/** If neither our message nor an error comes back within this, the message counts as not sent. */
const ECHO_MS = 10_000;

/** Why a message is not (yet) sent. */
export type FailReason = "refused" | "offline" | "timeout";

/** One message the user sent, from Enter until the server echoes it back. */
export interface Outgoing {
  readonly key: number;
  readonly text: string;
  state: "queued" | "sending" | "failed";
  reason?: FailReason;
}

/** What the outbox needs from the page. */
export interface OutboxHooks {
  /** Sends one chat message now; `false` when no connection is open. */
  transmit(text: string): boolean;
  /** An entry was added or changed state: show it. */
  show(entry: Outgoing): void;
  /** An entry was confirmed or given up: take it out of the log. */
  drop(entry: Outgoing): void;
}

/**
 * The messages on their way, in the order they were written. One is on the wire at a time and the next goes when the
 * server echoes it (every member gets each message, the sender included, PROTOCOL §5), so the server stores them in
 * the order typed and an error frame, which does not say what it answers, can only be about that one. A failed entry
 * holds back those behind it, so a retry cannot reorder them.
 */
export class Outbox {
  readonly #hooks: OutboxHooks;
  #entries: Outgoing[] = [];
  #next = 1;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(hooks: OutboxHooks) {
    this.#hooks = hooks;
  }

  /** The entries not yet confirmed, oldest first. */
  get entries(): readonly Outgoing[] {
    return this.#entries;
  }

  /** Queues `text` and sends it when its turn comes. */
  add(text: string): Outgoing {
    const entry: Outgoing = { key: this.#next++, text, state: "queued" };
    this.#entries.push(entry);
    this.#hooks.show(entry);
    this.pump();
    return entry;
  }

  /** Our message `text` came back from the server (live or in history): the entry it answers is done. */
  confirm(text: string): boolean {
    const entry = this.#entries.find((item) => item.text === text && item.state !== "queued");
    if (!entry) return false;
    if (entry.state === "sending") clearTimeout(this.#timer);
    this.#remove(entry);
    this.pump();
    return true;
  }

  /** The server refused the message on the wire, if any: it fails, and is returned. */
  refuse(): Outgoing | undefined {
    const entry = this.#entries.find((item) => item.state === "sending");
    if (entry) this.#fail(entry, "refused");
    return entry;
  }

  /** The connection dropped: the message on the wire may or may not have arrived; history will tell. */
  disconnected(): void {
    for (const entry of this.#entries) if (entry.state === "sending") this.#fail(entry, "offline");
  }

  /** Back online and caught up: what failed only for the connection goes again, in order. */
  resume(): void {
    for (const entry of this.#entries) if (entry.state === "failed" && entry.reason !== "refused") this.#queue(entry);
    this.pump();
  }

  /** The user asked to send the failed messages again (all of them, so their order stays). */
  retry(): void {
    for (const entry of this.#entries) if (entry.state === "failed") this.#queue(entry);
    this.pump();
  }

  /** Gives up on one entry. */
  discard(entry: Outgoing): void {
    if (entry.state === "sending") clearTimeout(this.#timer);
    this.#remove(entry);
    this.pump();
  }

  /**
   * Empties the outbox (leaving the channel), handing back the texts not sent. The one on the wire is not among them:
   * it has almost surely arrived, and handing it back could post it twice.
   */
  takeAll(): string[] {
    clearTimeout(this.#timer);
    const texts = this.#entries.filter((entry) => entry.state !== "sending").map((entry) => entry.text);
    for (const entry of this.#entries) this.#hooks.drop(entry);
    this.#entries = [];
    return texts;
  }

  /** Sends the first entry if it is queued and nothing is on the wire. */
  pump(): void {
    const first = this.#entries[0];
    if (first?.state !== "queued") return;
    if (!this.#hooks.transmit(first.text)) return;
    first.state = "sending";
    this.#hooks.show(first);
    this.#timer = setTimeout(() => first.state === "sending" && this.#fail(first, "timeout"), ECHO_MS);
  }

  #queue(entry: Outgoing): void {
    entry.state = "queued";
    entry.reason = undefined;
    this.#hooks.show(entry);
  }

  #fail(entry: Outgoing, reason: FailReason): void {
    if (entry.state === "sending") clearTimeout(this.#timer);
    entry.state = "failed";
    entry.reason = reason;
    this.#hooks.show(entry);
  }

  #remove(entry: Outgoing): void {
    this.#entries = this.#entries.filter((item) => item !== entry);
    this.#hooks.drop(entry);
  }
}
