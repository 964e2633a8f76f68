import type { DmFrame, MessageFrame, ServerFrame } from "../../lambda/core/server-frames.ts";
import type { ChatClient } from "./chat-client.ts";
import { Composer } from "./composer.ts";
import { ConversationList } from "./conversation-list.ts";
import { Conversations } from "./conversations.ts";
import { byId, element } from "./dom.ts";
import { parseServerFrame } from "./frames.ts";
import { HistoryPager } from "./history-pager.ts";
import { MessageLog } from "./message-log.ts";
import { Outbox } from "./outbox.ts";
import { RetriedRequest } from "./retried-request.ts";
import type { NoticeView } from "./status-view.ts";
import type { UnreadTitle } from "./unread-title.ts";
import type { Wire } from "./wire.ts";
import { historyFailedSentence, refusalSentence, refusedMessageSentence } from "./wording.ts";

type HistoryFrame = Extract<ServerFrame, { type: "history" }>;
type ErrorFrame = Extract<ServerFrame, { type: "error" }>;

/** After each connect, this many of the latest conversations (besides the open one) are asked what came meanwhile. */
const CHECKS = 4;

/** What the direct messages need from the page. */
export interface DirectDeps {
  readonly client: ChatClient;
  /** Sends one request if a connection is open. */
  request(frame: object): boolean;
  readonly wire: Wire;
  readonly notice: NoticeView;
  readonly title: UnreadTitle;
  /** Our name as the session endpoint gave it. */
  me(): string | undefined;
}

/** A direct message as the log shows it (the log knows chat messages). */
const asMessage = (frame: DmFrame): MessageFrame => ({ ...frame, type: "message", channel: "" });

/**
 * Direct messages (PROTOCOL §7) over the page's one connection: the server sends `dm` frames to every connection of
 * both users, whatever their channel, so they are routed here from the channel's connection. One conversation is open
 * at a time in place of the channel's log, with its own log, composer, history pages (`history` `with`, older ones
 * when scrolled to the top, `after` pages to fill a gap) and an outbox per conversation, taking turns on the wire
 * with the channel's. The others count their unread messages in the list and the tab's title.
 */
export class DirectMessages {
  readonly #deps: DirectDeps;
  readonly #chat = byId("chat", HTMLElement);
  readonly #view = byId("direct", HTMLElement);
  readonly #heading = byId("direct-heading", HTMLElement);
  readonly #back = byId("direct-back", HTMLButtonElement);
  readonly #input = byId("dm-input", HTMLTextAreaElement);
  readonly #conversations = new Conversations();
  readonly #list: ConversationList;
  readonly #log: MessageLog;
  readonly #pager: HistoryPager;
  readonly #composer: Composer;
  readonly #outboxes = new Map<string, Outbox>();
  /** Drafts per conversation, in the page only (never stored: they are direct messages). */
  readonly #drafts = new Map<string, string>();
  /** The checks of the latest conversations after a connect, until answered or given up. */
  readonly #checks = new Map<string, RetriedRequest>();
  #user: string | undefined;
  #channel: string | undefined;
  /** The conversation shown, if any (else the channel). */
  #open: string | undefined;
  /** Chat messages that came to the channel while a conversation was shown. */
  #channelUnread = 0;

  constructor(deps: DirectDeps) {
    this.#deps = deps;
    const { client, notice } = deps;
    this.#list = new ConversationList(
      {
        panel: byId("conversations", HTMLDetailsElement),
        summary: byId("conversations-summary", HTMLElement),
        list: byId("conversation-list", HTMLUListElement),
        form: byId("dm-start", HTMLFormElement),
        input: byId("dm-to", HTMLInputElement),
        hint: byId("dm-to-hint", HTMLElement),
      },
      (peer) => this.open(peer),
      deps.me,
    );
    this.#log = new MessageLog(
      byId("dm-log", HTMLElement),
      byId("dm-messages", HTMLOListElement),
      byId("dm-new-messages", HTMLButtonElement),
      {
        nearTop: () => this.#pager.wantOlder(this.#log.oldest),
        retry: () => {
          notice.clear("refused");
          this.#current()?.retry();
        },
        discard: (entry) => this.#current()?.discard(entry),
      },
    );
    this.#pager = new HistoryPager({
      request: (position) =>
        this.#open !== undefined && deps.request({ action: "history", with: this.#open, ...position }),
      caughtUp: () => {
        notice.clear("dm-history");
        this.#current()?.resume();
      },
      failed: (kind) => notice.show(historyFailedSentence(kind), { cause: "dm-history" }),
    });
    this.#composer = new Composer(
      byId("dm-composer", HTMLFormElement),
      this.#input,
      byId("dm-char-count", HTMLElement),
      {
        send: (message) => {
          notice.clear("refused");
          this.#current()?.add(message);
        },
        tooLong: (over) =>
          over ? notice.show(refusalSentence("too_large"), { cause: "dm-length" }) : notice.clear("dm-length"),
      },
    );
    this.#back.addEventListener("click", () => this.showChannel());
    this.#view.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !event.isComposing) this.showChannel();
    });
    client.addEventListener("open", () => this.#opened());
    client.addEventListener("close", () => {
      for (const outbox of this.#outboxes.values()) outbox.disconnected();
    });
    client.addEventListener("statechange", () => {
      // Another channel (the switcher, Back): its log is what the reader asked for.
      if (client.channel === this.#channel) return;
      this.#channel = client.channel;
      this.showChannel(false);
    });
    client.addEventListener("message", (event) => {
      if (this.#open === undefined) return;
      const frame = parseServerFrame((event as MessageEvent).data);
      if (frame?.type === "message" && frame.channel === client.channel && frame.from !== deps.me()) {
        this.#channelUnread++;
        this.#labelBack();
      }
    });
  }

  /** Shows the conversation with `peer` in place of the channel, and marks it read. */
  open(peer: string): void {
    if (peer === this.#open) {
      this.#composer.focus();
      return;
    }
    if (this.#open !== undefined) this.#drafts.set(this.#open, this.#input.value);
    this.#open = peer;
    this.#chat.dataset.view = "direct";
    this.#view.hidden = false;
    this.#heading.replaceChildren(element("span", "visually-hidden", "Direct messages with "), peer);
    byId("dm-log", HTMLElement).setAttribute("aria-label", `Direct messages with ${peer}`);
    this.#input.value = this.#drafts.get(peer) ?? "";
    this.#input.dispatchEvent(new Event("input"));
    this.#log.clear();
    this.#pager.reset();
    this.#deps.notice.clear("dm-history");
    for (const entry of this.#outboxes.get(peer)?.entries ?? []) this.#log.showOutgoing(entry);
    const item = this.#conversations.get(peer) ?? this.#conversations.touch(peer, Date.now());
    item.unread = 0;
    if (this.#deps.client.readyState === this.#deps.client.OPEN) this.#pager.opened(undefined);
    this.#deps.title.base = `${peer} · Direct messages · Channel chat`;
    this.#labelBack();
    this.#changed();
    this.#composer.focus();
  }

  /** Back to the channel's log (`focus`: put the caret in its message box). */
  showChannel(focus = true): void {
    const wasOpen = this.#open !== undefined;
    if (this.#open !== undefined) this.#drafts.set(this.#open, this.#input.value);
    this.#open = undefined;
    this.#channelUnread = 0;
    this.#chat.dataset.view = "channel";
    this.#view.hidden = true;
    if (wasOpen) this.#deps.title.base = `#${this.#deps.client.channel ?? ""} · Channel chat`;
    this.#changed();
    if (focus) byId("message-input", HTMLTextAreaElement).focus();
  }

  /** A `dm` frame, ours (from any of our tabs) or to us. */
  received(frame: DmFrame): void {
    const me = this.#deps.me();
    const own = frame.from === me;
    const peer = own ? frame.to : frame.from;
    const item = this.#conversations.touch(peer, frame.timestamp);
    if (own) this.#outboxes.get(peer)?.confirm(frame.message);
    if (peer === this.#open) {
      this.#log.addMessages([asMessage(frame)], this.#isOwn, true);
      if (!own) this.#deps.title.arrived(1);
      item.read = Math.max(item.read, frame.timestamp);
    } else if (!own && frame.timestamp > item.read) {
      item.unread++;
    }
    this.#changed();
  }

  /** A page of a conversation (`history` `with`): the open one's pager asked for it, or a check after a connect. */
  history(frame: HistoryFrame): void {
    const peer = frame.with;
    if (peer === undefined) return;
    const messages = frame.messages.flatMap((message) => (message.type === "dm" ? [message] : []));
    const outbox = this.#outboxes.get(peer);
    for (const message of messages) if (message.from !== peer) outbox?.confirm(message.message);
    const newest = messages[messages.length - 1]?.timestamp ?? 0;
    const check = this.#checks.get(peer);
    if (peer === this.#open && this.#pager.waiting) {
      const { live } = this.#pager.answered(messages, frame.more);
      this.#log.addMessages(messages.map(asMessage), this.#isOwn, live);
      if (live) this.#deps.title.arrived(messages.filter((message) => message.from === peer).length);
      const item = this.#conversations.touch(peer, newest);
      item.read = Math.max(item.read, newest);
    } else if (check !== undefined) {
      check.answered();
      this.#checks.delete(peer);
      const item = this.#conversations.touch(peer, newest);
      item.unread = messages.filter((message) => message.from === peer && message.timestamp > item.read).length;
      outbox?.resume();
    }
    this.#changed();
  }

  /** An error frame: whether it answers one of our direct messages on the wire (then it is handled here). */
  refused(frame: ErrorFrame): boolean {
    const holder = this.#deps.wire.holder;
    const peer = holder?.startsWith("dm:") ? holder.slice(3) : undefined;
    const outbox = peer === undefined ? undefined : this.#outboxes.get(peer);
    const entry = outbox?.refuse();
    if (!outbox || !entry) return false;
    const options = { code: frame.code, cause: "refused" };
    if (peer === this.#open && this.#composer.empty && outbox.entries.length === 1) {
      outbox.discard(entry);
      this.#composer.restore(entry.text);
      this.#deps.notice.show(refusedMessageSentence(frame.code, "back", frame.message), options);
    } else {
      this.#deps.notice.show(refusedMessageSentence(frame.code, "kept", frame.message), options);
    }
    return true;
  }

  /** An error frame nothing else claimed: it may refuse the open conversation's page or a check, asked again later. */
  requestsRefused(): void {
    this.#pager.refused();
    for (const check of this.#checks.values()) check.refused();
  }

  readonly #isOwn = (from: string): boolean => from === this.#deps.me();

  /** The open conversation's outbox (made on first use). */
  #current(): Outbox | undefined {
    const peer = this.#open;
    if (peer === undefined) return undefined;
    let outbox = this.#outboxes.get(peer);
    if (!outbox) {
      const shown = () => peer === this.#open;
      const created: Outbox = new Outbox(
        this.#deps.wire.guard(
          `dm:${peer}`,
          {
            transmit: (message) => this.#deps.request({ action: "dm", to: peer, message }),
            show: (entry) => shown() && this.#log.showOutgoing(entry),
            drop: (entry) => shown() && this.#log.dropOutgoing(entry),
          },
          () => created.pump(),
        ),
      );
      outbox = created;
      this.#outboxes.set(peer, outbox);
    }
    return outbox;
  }

  /** A connection opened: the user's conversations, the open one's gap, and what came to the latest others. */
  #opened(): void {
    const me = this.#deps.me();
    if (me !== this.#user) {
      // Another name: nothing of the last one's conversations stays.
      this.#user = me;
      this.showChannel(false);
      this.#outboxes.clear();
      this.#drafts.clear();
      if (me !== undefined) this.#conversations.load(me);
    }
    if (this.#open !== undefined) this.#pager.opened(this.#log.newest);
    // Those still unanswered from the last connection ask again over this one.
    for (const check of this.#checks.values()) check.stop();
    this.#checks.clear();
    for (const { with: peer } of this.#conversations.list.slice(0, CHECKS)) {
      if (peer === this.#open) continue;
      const check = new RetriedRequest({
        send: () => this.#deps.request({ action: "history", with: peer }),
        gaveUp: () => this.#checks.delete(peer),
      });
      if (!check.start()) break;
      this.#checks.set(peer, check);
    }
    this.#changed();
  }

  #labelBack(): void {
    const unread = this.#channelUnread;
    this.#back.textContent = `Back to #${this.#deps.client.channel ?? ""}${unread > 0 ? ` (${unread} new)` : ""}`;
  }

  /** Keeps the list, shows it, and counts the unread in the title. */
  #changed(): void {
    this.#conversations.save();
    this.#list.render(this.#conversations.list, this.#open);
    this.#deps.title.direct = this.#conversations.unread;
  }
}
