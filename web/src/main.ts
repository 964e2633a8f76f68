import { ChannelSwitcher } from "./channel-switcher.ts";
import { ChatClient, type ConnectionState, socketTarget } from "./chat-client.ts";
import { Composer } from "./composer.ts";
import { type ChatConfig, loadConfig } from "./config.ts";
import { byId } from "./dom.ts";
import { parseServerFrame } from "./frames.ts";
import { checkJoin, JoinForm, type JoinRequest } from "./join-form.ts";
import { MessageLog } from "./message-log.ts";
import { readOptions } from "./options.ts";
import { applyPresence, normalisePresence, presenceChange } from "./presence.ts";
import { PresenceView } from "./presence-view.ts";
import { SessionTokens } from "./session.ts";
import { NoticeView, StatusView } from "./status-view.ts";

declare global {
  interface Window {
    /** The live chat connection, as the seed's page had it: `wschat.send("hello")` from the console. */
    wschat: ChatClient;
    /** Timing overrides for tests (see options.ts), read once when the page starts. */
    wschatOptions?: unknown;
  }
}

const params = new URLSearchParams(location.search);
const options = readOptions(params, window.wschatOptions);

const status = new StatusView(byId("connection-status", HTMLElement));
const notice = new NoticeView(byId("notice", HTMLElement));
const log = new MessageLog(byId("log", HTMLElement), byId("messages", HTMLOListElement));
const presenceView = new PresenceView(byId("presence-summary", HTMLElement), byId("presence-list", HTMLUListElement));
const chatSection = byId("chat", HTMLElement);
const whoami = byId("whoami", HTMLElement);
// Wide screens show the list beside the log; on a phone it sits folded under the log.
byId("presence", HTMLDetailsElement).open = matchMedia("(min-width: 48rem)").matches;

/** Config is fetched once it succeeds; a failed fetch is tried again on the next connect. */
let config: Promise<ChatConfig> | undefined;
const loadConfigOnce = (): Promise<ChatConfig> => {
  config ??= loadConfig().catch((error: unknown) => {
    config = undefined;
    throw error;
  });
  return config;
};

let user: JoinRequest | undefined;
let tokens: SessionTokens | undefined;
/** Our name as the session endpoint normalised it; messages from it are ours. */
let me: string | undefined;
let presence: string[] = [];
const isOwn = (from: string): boolean => from === me;

const client = new ChatClient({
  pingMs: options.pingMs,
  backoff: { baseMs: options.backoffBaseMs, maxMs: options.backoffMaxMs },
  locate: async (channel, renewToken) => {
    const { wsUrl, sessionUrl } = await loadConfigOnce();
    const username = user?.username ?? "";
    if (tokens?.username !== username || tokens.sessionUrl !== sessionUrl) {
      tokens?.dispose();
      tokens = new SessionTokens(sessionUrl, username);
    }
    const session = await tokens.session(renewToken);
    me = session.username;
    return socketTarget(wsUrl, channel, session.token);
  },
});
window.wschat = client;

const composer = new Composer(
  byId("composer", HTMLFormElement),
  byId("message-input", HTMLTextAreaElement),
  byId("char-count", HTMLElement),
  {
    send: (message) => {
      if (client.readyState !== client.OPEN) return false;
      // Wrapped in a `send` action so a message that happens to be JSON with an "action" is still a message.
      client.send(JSON.stringify({ action: "send", message }));
      return true;
    },
    notify: (text, code) => notice.show(text, code),
  },
);

const joinForm = new JoinForm(
  byId("join", HTMLElement),
  byId("join-form", HTMLFormElement),
  {
    username: byId("join-username", HTMLInputElement),
    channel: byId("join-channel", HTMLInputElement),
    error: byId("join-error", HTMLElement),
  },
  (join) => enter(join),
);

const switcher = new ChannelSwitcher(byId("channel-form", HTMLFormElement), byId("channel-input", HTMLInputElement), {
  current: () => (client.state.kind === "offline" ? undefined : client.channel),
  switchTo: (channel) => user && enter({ ...user, channel }),
  refuse: (error) => notice.show(error),
});

/** Shows the chat for `join` and connects; a new channel starts from an empty log (its history follows). */
function enter(join: JoinRequest): void {
  // Until the session endpoint answers, the typed name (already trimmed) stands for ours.
  if (user?.username !== join.username) me = join.username;
  user = join;
  joinForm.hide();
  chatSection.hidden = false;
  whoami.hidden = false;
  whoami.textContent = `#${join.channel} as ${join.username}`;
  switcher.show(join.channel);
  notice.hide();
  log.clear();
  presence = [];
  presenceView.render(presence, me);
  const url = new URL(location.href);
  url.searchParams.set("username", join.username);
  url.searchParams.set("channel", join.channel);
  history.replaceState(null, "", url);
  document.title = `#${join.channel} · Channel chat`;
  client.join(join.channel);
  composer.focus();
}

client.addEventListener("open", () => {
  // After every (re)connect: what was said meanwhile (deduplicated by id) and who is here now.
  client.send(JSON.stringify({ action: "history" }));
  client.send(JSON.stringify({ action: "who" }));
});

client.addEventListener("close", () => composer.reject());

client.addEventListener("statechange", (event) => {
  const state = (event as CustomEvent<ConnectionState>).detail;
  status.render(state);
  if (state.kind === "offline" && state.reason !== undefined) {
    // The session endpoint refused the name: only another name can help.
    chatSection.hidden = true;
    whoami.hidden = true;
    switcher.hide();
    joinForm.show(user ?? {}, state.reason);
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
      log.addMessages([frame], isOwn);
      if (isOwn(frame.from)) composer.confirm(frame.message);
      break;
    case "system": {
      log.addSystem(frame);
      const change = presenceChange(frame.message);
      if (change) {
        presence = applyPresence(presence, change);
        presenceView.render(presence, me);
      }
      break;
    }
    case "presence":
      presence = normalisePresence(frame.users);
      presenceView.render(presence, me);
      break;
    case "history":
      log.addMessages(frame.messages, isOwn);
      break;
    case "error":
      // Error frames do not say which frame they answer; a draft in flight is the likely one, and it is still there.
      notice.show(
        composer.reject() ? `${frame.message.replace(/\.$/, "")}. Your message is still in the box.` : frame.message,
        frame.code,
      );
      break;
    case "pong":
      break;
  }
});

const fromUrl = params.get("username");
if (fromUrl === null) {
  joinForm.show({ channel: params.get("channel") ?? undefined });
} else {
  const checked = checkJoin(fromUrl, params.get("channel") ?? undefined);
  if (checked.ok) enter(checked.join);
  else joinForm.show({ username: fromUrl, channel: params.get("channel") ?? undefined }, checked.error);
}
