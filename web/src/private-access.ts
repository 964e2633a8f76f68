import { isPrivateChannel } from "../../lambda/core/names.ts";
import type { ChatClient } from "./chat-client.ts";
import { byId } from "./dom.ts";

/** Whether the page's channel is private (PROTOCOL §7), by the server's own rule. */
export const isPrivate = (channel: string | undefined): boolean => channel !== undefined && isPrivateChannel(channel);

/** The closing code browsers report for a connection that ended without a close frame: a refused handshake. */
const ABNORMAL = 1006;

/**
 * Stops the page knocking forever at a private channel that refuses it. A browser never sees a handshake's HTTP
 * status, only a close before the open, and the client then renews its token and tries again; a second refusal in a
 * row with a fresh token is the 403 of a private channel the user is not a member of (PROTOCOL §3, §7). The page then
 * stops reconnecting and says so: "not a member" the first time, "removed" once it had been in (the server closes a
 * removed member's connections, and refuses them after). "Try again" knocks again, e.g. once invited.
 */
export class PrivateAccess {
  readonly #client: ChatClient;
  readonly #stopped: () => void;
  readonly #panel = byId("access", HTMLElement);
  readonly #text = byId("access-text", HTMLElement);
  readonly #retry = byId("access-retry", HTMLButtonElement);
  #channel: string | undefined;
  /** The page was in this channel since it chose it. */
  #entered = false;
  /** Who removed us, from the channel's notice, when it came before the close. */
  #removedBy: string | undefined;
  #refusals = 0;
  /** The current attempt opened. */
  #opened = false;

  /** `stopped` is told when the page gives up on the channel (to show the channel's log, where the sentence is). */
  constructor(client: ChatClient, stopped: () => void = () => {}) {
    this.#client = client;
    this.#stopped = stopped;
    this.#retry.addEventListener("click", () => {
      this.#hide();
      if (this.#channel !== undefined) client.join(this.#channel);
    });
    client.addEventListener("statechange", () => {
      if (client.channel !== this.#channel) {
        this.#channel = client.channel;
        this.#entered = false;
        this.#hide();
      }
      if (client.state.kind === "connecting") this.#opened = false;
    });
    client.addEventListener("open", () => {
      this.#opened = true;
      this.#entered = true;
      this.#refusals = 0;
      this.#removedBy = undefined;
    });
    // The client has already scheduled its reconnect when it reports the close.
    client.addEventListener("close", (event) => {
      if (!isPrivate(this.#channel)) return;
      if (this.#opened) {
        if (this.#removedBy !== undefined) this.#stop(`${this.#removedBy} removed you`);
        return;
      }
      if ((event as CloseEvent).code !== ABNORMAL) return;
      this.#refusals++;
      if (this.#refusals >= 2) this.#stop(this.#entered ? "You were removed" : undefined);
    });
  }

  /** A notice of the channel: "Ann removed Bob" about us (`me`) means the close that follows is for good. */
  notice(message: string, me: string | undefined): void {
    const suffix = ` removed ${me}`;
    if (me !== undefined && isPrivate(this.#channel) && message.endsWith(suffix))
      this.#removedBy = message.slice(0, -suffix.length);
  }

  #stop(removed: string | undefined): void {
    const channel = this.#channel ?? "";
    this.#refusals = 0;
    this.#removedBy = undefined;
    // After the event being dispatched, so the status line ends at "Offline".
    queueMicrotask(() => {
      if (this.#client.channel !== channel) return;
      this.#client.close(1000, "not a member");
      this.#text.textContent = removed
        ? `${removed} from ${channel}. Ask its owner to invite you again.`
        : `You are not a member of ${channel}; ask its owner to invite you.`;
      this.#panel.hidden = false;
      this.#stopped();
      this.#retry.focus();
    });
  }

  #hide(): void {
    this.#panel.hidden = true;
  }
}
