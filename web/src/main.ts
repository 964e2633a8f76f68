import { ChannelSwitcher } from "./channel-switcher.ts";
import type { ChatClient, ConnectionState } from "./chat-client.ts";
import { Composer } from "./composer.ts";
import { type ChatAuth, loadConfig } from "./config.ts";
import { createConnection } from "./connection.ts";
import { DirectMessages } from "./direct-view.ts";
import { byId } from "./dom.ts";
import { parseServerFrame } from "./frames.ts";
import { HistoryPager } from "./history-pager.ts";
import { checkJoin, JoinForm, type JoinRequest } from "./join-form.ts";
import { MembersView } from "./members-view.ts";
import { MessageLog } from "./message-log.ts";
import { chatUrl, readLocation } from "./navigation.ts";
import { OidcSignIn } from "./oidc.ts";
import { readOptions } from "./options.ts";
import { Outbox } from "./outbox.ts";
import { applyPresence, normalisePresence, presenceChange } from "./presence.ts";
import { PresenceView } from "./presence-view.ts";
import { PrivateAccess } from "./private-access.ts";
import { RetriedRequest } from "./retried-request.ts";
import { Screens } from "./screens.ts";
import { SignInRequired } from "./session.ts";
import { SignInView } from "./sign-in-view.ts";
import { NoticeView, StatusView } from "./status-view.ts";
import { UnreadTitle } from "./unread-title.ts";
import { Wire } from "./wire.ts";
import { historyFailedSentence, refusalSentence, refusedMessageSentence, sessionRefusalSentence } from "./wording.ts";

declare global {
  interface Window {
    /** The live chat connection, as the seed's page had it: `wschat.send("hello")` from the console. */
    wschat: ChatClient;
    /** Timing overrides for tests (see options.ts), read once when the page starts. */
    wschatOptions?: unknown;
  }
}

const options = readOptions(new URLSearchParams(location.search), window.wschatOptions);

const notice = new NoticeView(byId("notice", HTMLElement));
const presenceView = new PresenceView(
  byId("presence", HTMLElement),
  byId("presence-summary", HTMLElement),
  byId("presence-list", HTMLUListElement),
  byId("presence-stale", HTMLElement),
);
const title = new UnreadTitle();
// Wide screens show the list beside the log; on a phone it sits folded under the log.
byId("presence", HTMLDetailsElement).open = matchMedia("(min-width: 48rem)").matches;

let user: JoinRequest | undefined;
/** Our name as the session endpoint normalised it; messages from it are ours. */
let me: string | undefined;
let presence: string[] = [];
let presenceCount = 0;
const isOwn = (from: string): boolean => from === me;
/** OIDC mode's sign-in (config.json's `auth`); undefined in guest mode. */
let signIn: OidcSignIn | undefined;

const { client, forgetSession } = createConnection(options, {
  username: () => user?.username ?? "",
  named: (username) => {
    me = username;
  },
  idToken: (renew) => signIn?.idToken(renew) ?? Promise.reject(new SignInRequired("not signed in")),
});
window.wschat = client;
const status = new StatusView(byId("connection-status", HTMLElement), byId("retry-now", HTMLButtonElement), () =>
  client.reconnectNow(),
);

/** Sends one request if a connection is open. */
function request(frame: object): boolean {
  if (client.readyState !== client.OPEN) return false;
  client.send(JSON.stringify(frame));
  return true;
}

/** One frame an error may answer at a time: the channel's messages, direct messages and member requests take turns. */
const wire = new Wire();
const outbox = new Outbox(
  wire.guard(
    "channel",
    {
      // Wrapped in a `send` action so a message that happens to be JSON with an "action" is still a message.
      transmit: (message) => request({ action: "send", message }),
      show: (entry) => log.showOutgoing(entry),
      drop: (entry) => log.dropOutgoing(entry),
    },
    () => outbox.pump(),
  ),
);

const log = new MessageLog(
  byId("log", HTMLElement),
  byId("messages", HTMLOListElement),
  byId("new-messages", HTMLButtonElement),
  {
    nearTop: () => pager.wantOlder(log.oldest),
    retry: () => {
      notice.clear("refused");
      outbox.retry();
    },
    discard: (entry) => {
      outbox.discard(entry);
      if (!outbox.entries.some((item) => item.state === "failed")) notice.clear("refused");
    },
  },
);

const pager = new HistoryPager({
  request: (position) => request({ action: "history", ...position }),
  // Caught up with what was said meanwhile: what could not be sent while offline goes now, after it.
  caughtUp: () => {
    notice.clear("history");
    outbox.resume();
  },
  failed: (kind) => notice.show(historyFailedSentence(kind), { cause: "history" }),
});
/** Who is here, asked after every connect; refused again and again, the list says it may be out of date. */
const who = new RetriedRequest({ send: () => request({ action: "who" }), gaveUp: () => presenceView.setStale(true) });

// Direct messages over this connection, a private channel's refusal and its members (PROTOCOL §7).
const direct = new DirectMessages({ client, request, wire, notice, title, me: () => me });
const access = new PrivateAccess(client, () => direct.showChannel(false));
const members = new MembersView({ client, request, wire, notice, me: () => me, changed: () => presenceView.refresh() });
presenceView.message = (user) => direct.open(user);
presenceView.actions = (user) => members.userActions(user);

const composer = new Composer(
  byId("composer", HTMLFormElement),
  byId("message-input", HTMLTextAreaElement),
  byId("char-count", HTMLElement),
  {
    send: (message) => {
      notice.clear("refused");
      outbox.add(message);
    },
    tooLong: (over) => (over ? notice.show(refusalSentence("too_large"), { cause: "length" }) : notice.clear("length")),
  },
);

const joinForm = new JoinForm(
  byId("join", HTMLElement),
  byId("join-form", HTMLFormElement),
  {
    username: byId("join-username", HTMLInputElement),
    usernameHint: byId("join-username-hint", HTMLElement),
    channel: byId("join-channel", HTMLInputElement),
    channelHint: byId("join-channel-hint", HTMLElement),
    error: byId("join-error", HTMLElement),
  },
  (join) => enter(join, "push"),
);

const switcher = new ChannelSwitcher(
  byId("channel-form", HTMLFormElement),
  byId("channel-input", HTMLInputElement),
  byId("channel-rule", HTMLElement),
  {
    current: () => (client.state.kind === "offline" ? undefined : client.channel),
    switchTo: (channel) => user && enter({ ...user, channel }, "push"),
    problem: (problem) => (problem ? notice.show(problem, { cause: "channel-name" }) : notice.clear("channel-name")),
  },
);

const signInView = new SignInView(
  byId("signin", HTMLElement),
  byId("signin-error", HTMLElement),
  byId("signin-button", HTMLButtonElement),
  // Back from the provider, the page opens the channel the address names now.
  async () => signIn?.begin(chatUrl(location.href, { channel: readLocation(location.search).channel }).href),
);

const screens = new Screens({
  chat: byId("chat", HTMLElement),
  whoami: byId("whoami", HTMLElement),
  account: byId("account", HTMLElement),
  switcher,
  joinForm,
});

/** Messages still on their way when we leave a channel go back into its draft, so none is lost. */
function keepUnsent(): void {
  const unsent = outbox.takeAll();
  if (unsent.length > 0) composer.restore(unsent.join("\n"));
}

/**
 * Shows the chat for `join` and connects; a new channel starts from an empty log (its history follows). `record`
 * says how the address bar follows: a new entry (so Back returns to the previous channel), or the current one.
 */
function enter(join: JoinRequest, record: "push" | "replace" | "none"): void {
  keepUnsent();
  // Until the session endpoint answers, the typed name (already trimmed) stands for ours.
  if (user?.username !== join.username) me = join.username;
  user = join;
  signInView.hide();
  screens.showChat(join);
  notice.hide();
  log.clear();
  pager.reset();
  presence = [];
  presenceCount = 0;
  presenceView.render(presence, me);
  if (record === "push") history.pushState(null, "", chatUrl(location.href, join));
  if (record === "replace") history.replaceState(null, "", chatUrl(location.href, join));
  title.base = `#${join.channel} · Channel chat`;
  composer.useChannel(join.channel);
  client.join(join.channel);
  composer.focus();
}

/**
 * Closes the chat and shows the join form: to leave, to come back under another name (`keepName` prefills it), or
 * because the address asks for it (Back; `record` false leaves the address alone).
 */
function leave(keepName: boolean, record = true, prefill: Partial<JoinRequest> = {}, error?: string): void {
  keepUnsent();
  client.close(1000, "left");
  forgetSession();
  const channel = prefill.channel ?? user?.channel;
  const username = signIn?.username ?? prefill.username ?? (keepName ? user?.username : "");
  user = undefined;
  notice.hide();
  title.base = "Channel chat";
  if (record) history.pushState(null, "", chatUrl(location.href, { channel }));
  screens.showJoin({ username, channel }, error);
}

byId("leave-button", HTMLButtonElement).addEventListener("click", () => leave(false));
byId("rename-button", HTMLButtonElement).addEventListener("click", () => leave(true));
byId("signout-button", HTMLButtonElement).addEventListener("click", () => void signOut());

/** OIDC mode with nobody signed in: only the sign-in screen, saying why if a sign-in failed. */
function showSignIn(error?: string): void {
  keepUnsent();
  // A page that never connected stays "Not connected" rather than "Offline".
  if (client.state.kind !== "idle") client.close(1000, "signed out");
  forgetSession();
  user = undefined;
  notice.hide();
  title.base = "Channel chat";
  screens.showNone();
  signInView.show(error);
}

/** Forgets the sign-in here and at the provider (which sends the browser back to the page), or shows the sign-in. */
async function signOut(): Promise<void> {
  const away = await signIn?.signOut();
  if (!away) showSignIn();
}

// Back and Forward move between the channels visited (and the join form).
addEventListener("popstate", () => start("none"));

client.addEventListener("open", () => {
  // After every (re)connect: what was said meanwhile, however long (deduplicated by id), and who is here now.
  pager.opened(log.newest);
  who.start();
});

client.addEventListener("close", () => outbox.disconnected());

client.addEventListener("statechange", (event) => {
  const state = (event as CustomEvent<ConnectionState>).detail;
  status.render(state);
  // Not current while the connection is down; a first connect to a channel has no list yet to mark.
  presenceView.setStale(state.kind !== "online" && (state.kind !== "connecting" || presence.length > 0));
  if (state.kind === "offline" && state.reason !== undefined) {
    if (signIn) {
      // The sign-in is gone or was refused: only signing in again can help.
      signIn.forget();
      showSignIn(state.reason);
      return;
    }
    // The session endpoint refused the name: only another name can help.
    keepUnsent();
    screens.showJoin(user ?? {}, user && sessionRefusalSentence(user.username));
  }
});

// A phone leaving a tunnel need not sit out the rest of a long backoff.
addEventListener("online", () => client.reconnectNow());

client.addEventListener("message", (event) => {
  const frame = parseServerFrame((event as MessageEvent).data);
  if (!frame) return;
  if ("channel" in frame && frame.channel !== client.channel) return;
  switch (frame.type) {
    case "message":
      if (isOwn(frame.from)) outbox.confirm(frame.message);
      log.addMessages([frame], isOwn, true);
      if (!isOwn(frame.from)) title.arrived(1);
      break;
    case "system": {
      log.addSystem(frame);
      access.notice(frame.message, me);
      members.notice(frame.message);
      const change = presenceChange(frame.message);
      if (change) {
        const before = presence.length;
        presence = applyPresence(presence, change);
        presenceCount = Math.max(0, presenceCount + presence.length - before);
        presenceView.render(presence, me, presenceCount);
      }
      break;
    }
    case "presence":
      who.answered();
      presence = normalisePresence(frame.users);
      presenceCount = frame.count;
      presenceView.render(presence, me, presenceCount);
      break;
    case "dm":
      direct.received(frame);
      break;
    case "history": {
      if (frame.with !== undefined) {
        direct.history(frame);
        break;
      }
      // A channel's page holds its chat messages; direct messages are not shown by this page.
      const messages = frame.messages.flatMap((message) => (message.type === "message" ? [message] : []));
      const { live } = pager.answered(messages, frame.more);
      for (const message of messages) if (isOwn(message.from)) outbox.confirm(message.message);
      log.addMessages(messages, isOwn, live);
      if (live) title.arrived(messages.filter((message) => !isOwn(message.from)).length);
      break;
    }
    case "error": {
      // Error frames do not say which request they answer: the one frame on the wire (a message the user typed, a
      // member change), else maybe one of those the page makes on its own, which each ask again later if unanswered.
      if (direct.refused(frame) || members.refused(frame)) break;
      const refused = outbox.refuse();
      if (refused) {
        if (composer.empty && outbox.entries.length === 1) {
          outbox.discard(refused);
          composer.restore(refused.text);
          notice.show(refusedMessageSentence(frame.code, "back", frame.message), {
            code: frame.code,
            cause: "refused",
          });
        } else {
          notice.show(refusedMessageSentence(frame.code, "kept", frame.message), {
            code: frame.code,
            cause: "refused",
          });
        }
      } else {
        pager.refused();
        who.refused();
        direct.requestsRefused();
        // Not the user's doing: "sending faster than the chat allows" would blame them for what the page asked.
        if (frame.code !== "rate_limited")
          notice.show(refusalSentence(frame.code, frame.message), { code: frame.code });
      }
      break;
    }
    case "pong":
      break;
  }
});

/** Opens what the address says: the chat for `?username=…&channel=…`, else the join form. */
function start(record: "replace" | "none"): void {
  const asked = readLocation(location.search);
  // In OIDC mode the name is the sign-in's, whatever the address says.
  const wanted = signIn ? { ...asked, username: signIn.username } : asked;
  if (signIn && wanted.username === undefined) {
    showSignIn();
    return;
  }
  const checked = wanted.username === undefined ? undefined : checkJoin(wanted.username, wanted.channel);
  if (!checked?.ok) {
    const prefill = { username: wanted.username, channel: wanted.channel };
    if (user) leave(false, false, prefill, checked?.error);
    else screens.showJoin(prefill, checked?.error);
    return;
  }
  const same = user?.username === checked.join.username && client.channel === checked.join.channel;
  if (!same || client.state.kind === "offline") enter(checked.join, record);
}

/** Guest mode: the page as the seed had it. OIDC mode: a sign-in coming back is finished first. */
async function boot(auth: ChatAuth | undefined): Promise<void> {
  if (auth?.mode === "oidc") {
    signIn = new OidcSignIn(auth);
    const usernameInput = byId("join-username", HTMLInputElement);
    usernameInput.readOnly = true;
    byId("rename-button", HTMLButtonElement).hidden = true;
    byId("signout-button", HTMLButtonElement).hidden = false;
    try {
      const back = await signIn.complete(new URL(location.href));
      if (back) history.replaceState(null, "", back);
    } catch (error) {
      // The code and state are of no more use: take them out of the address, and say why signing in failed.
      const url = new URL(location.href);
      for (const key of ["code", "state", "iss", "error", "error_description", "session_state"])
        url.searchParams.delete(key);
      history.replaceState(null, "", url);
      showSignIn(error instanceof Error ? error.message : String(error));
      return;
    }
  }
  start("replace");
}

// A config.json that cannot be read yet leaves the page in guest mode; the connection keeps asking for it.
loadConfig().then(
  (config) => boot(config.auth),
  () => boot(undefined),
);
