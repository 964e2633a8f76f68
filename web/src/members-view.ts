import { parseUsername } from "../../lambda/core/names.ts";
import type { ServerFrame } from "../../lambda/core/server-frames.ts";
import type { ChatClient } from "./chat-client.ts";
import { byId, element } from "./dom.ts";
import { isPrivate } from "./private-access.ts";
import type { NoticeView } from "./status-view.ts";
import type { Wire } from "./wire.ts";
import { refusalSentence, usernameProblem } from "./wording.ts";

type ErrorFrame = Extract<ServerFrame, { type: "error" }>;
type Change = "invite" | "remove";

/** A member request left unanswered this long is given up. */
const ANSWER_MS = 10_000;
/** "Ann added Bob" / "Ann removed Bob": only the owner changes members, so the first name is the owner's. */
const CHANGED = /^(.+?) (added|removed) (.+)$/;

/** What the members panel needs from the page. */
export interface MembersDeps {
  readonly client: ChatClient;
  request(frame: object): boolean;
  readonly wire: Wire;
  readonly notice: NoticeView;
  me(): string | undefined;
  /** Who may be removed changed: the presence list's actions are drawn again. */
  changed(): void;
}

/**
 * A private channel's members (PROTOCOL §7): a form to invite or remove someone by name, and a "Remove" action on the
 * people online. The server does not say who owns a channel, so the page learns it from what it sees: a change by us
 * that succeeds, "Ann added Bob" (only the owner changes members), or a `forbidden` refusal of ours. Until then the
 * controls are offered, and a refusal is said in the server's words. Requests take the wire (see {@link Wire}), so an
 * error frame is known to answer them; the answer is the channel's notice, or the owner's own ("Bob is not a member").
 */
export class MembersView {
  readonly #parts = {
    panel: byId("members", HTMLElement),
    form: byId("members-form", HTMLFormElement),
    input: byId("member-name", HTMLInputElement),
    remove: byId("member-remove", HTMLButtonElement),
    hint: byId("members-hint", HTMLElement),
  };
  readonly #deps: MembersDeps;
  #channel: string | undefined;
  /** The owner's name, `""` when known to be someone else unnamed, `undefined` when not known. */
  #owner: string | undefined;
  /** Whether we are in the channel (so a member). */
  #member = false;
  #pending: { action: Change; user: string; sent: boolean; timer?: ReturnType<typeof setTimeout> } | undefined;

  constructor(deps: MembersDeps) {
    const parts = this.#parts;
    this.#deps = deps;
    parts.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#submit(event.submitter === parts.remove ? "remove" : "invite");
    });
    parts.input.addEventListener("input", () => parts.input.removeAttribute("aria-invalid"));
    deps.wire.waiting("members", () => this.#pump());
    // Shown to members only: once a connection to the channel opened, until the page stops (refused, left).
    deps.client.addEventListener("open", () => {
      this.#member = true;
      this.#render();
    });
    deps.client.addEventListener("statechange", () => {
      const { channel, state } = deps.client;
      if (channel === this.#channel && state.kind !== "offline") return;
      if (channel !== this.#channel) this.#owner = undefined;
      this.#channel = channel;
      this.#member = false;
      this.#finish();
    });
  }

  /** Whether we may (as far as the page knows) change members here. */
  get #mayChange(): boolean {
    return isPrivate(this.#channel) && (this.#owner === undefined || this.#owner === this.#deps.me());
  }

  /** The presence list's action for `user`: "Remove", where we may change members. */
  userActions(user: string): HTMLElement[] {
    if (!this.#mayChange || user === this.#deps.me() || user === this.#owner) return [];
    const button = element("button", "presence-action presence-remove", "Remove");
    button.type = "button";
    button.setAttribute("aria-label", `Remove ${user} from ${this.#channel}`);
    button.addEventListener("click", () => this.#submit("remove", user));
    return [button];
  }

  /** A notice of the channel: it may answer our request, or tell who the owner is. */
  notice(message: string): void {
    const me = this.#deps.me();
    const pending = this.#pending;
    const changed = CHANGED.exec(message);
    if (changed?.[1] !== undefined && this.#owner !== changed[1]) {
      this.#owner = changed[1];
      this.#render();
    }
    if (!pending?.sent) return;
    const { action, user } = pending;
    const done = `${me} ${action === "invite" ? "added" : "removed"} ${user}`;
    const unchanged = `${user} ${action === "invite" ? "is already a member" : "is not a member"}`;
    if (message === done || message === unchanged) {
      if (this.#parts.input.value.trim() === user) this.#parts.input.value = "";
      this.#finish();
    }
  }

  /** An error frame: whether it answers our request on the wire (then it is said here). */
  refused(frame: ErrorFrame): boolean {
    if (!this.#pending?.sent || this.#deps.wire.holder !== "members") return false;
    if (frame.code === "forbidden" && /owner can/.test(frame.message) && this.#owner === undefined) this.#owner = "";
    this.#deps.notice.show(refusalSentence(frame.code, frame.message), { code: frame.code });
    this.#finish();
    this.#render();
    return true;
  }

  #submit(action: Change, name = this.#parts.input.value): void {
    const user = parseUsername(name);
    if (!user.ok) {
      this.#parts.input.setAttribute("aria-invalid", "true");
      this.#deps.notice.show(usernameProblem(name) ?? "Enter a name.");
      return;
    }
    if (this.#pending) return;
    this.#pending = { action, user: user.value, sent: false };
    this.#render();
    this.#pump();
  }

  /** Sends the request waiting, once the wire is free and a connection open. */
  #pump(): void {
    const pending = this.#pending;
    if (!pending || pending.sent || !this.#deps.wire.take("members")) return;
    if (!this.#deps.request({ action: pending.action, user: pending.user })) {
      this.#finish();
      this.#deps.notice.show("Not connected: try again once the chat is back.");
      return;
    }
    pending.sent = true;
    pending.timer = setTimeout(() => this.#finish(), ANSWER_MS);
  }

  /** The request is answered or given up: the wire is free, the form usable. */
  #finish(): void {
    clearTimeout(this.#pending?.timer);
    this.#pending = undefined;
    this.#deps.wire.release("members");
    this.#render();
  }

  #render(): void {
    const { panel, form, hint } = this.#parts;
    panel.hidden = !isPrivate(this.#channel) || !this.#member;
    form.hidden = !this.#mayChange;
    for (const button of form.querySelectorAll("button")) button.disabled = this.#pending !== undefined;
    const me = this.#deps.me();
    hint.textContent =
      this.#owner === me
        ? "You own this channel: you add and remove its members."
        : this.#owner
          ? `Only ${this.#owner}, its owner, adds and removes members.`
          : this.#owner === ""
            ? "Only its owner adds and removes members."
            : "Only its owner (the first to enter it) can add or remove members.";
    this.#deps.changed();
  }
}
