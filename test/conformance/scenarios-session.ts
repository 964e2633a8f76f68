import type { ServerFrame } from "../../lambda/core/server-frames.ts";
import type { ChatSocket } from "./client.ts";
import { show } from "./conformance-error.ts";
import type { ScenarioContext } from "./context.ts";
import { check, equal, receivedNone, refused, roundTrip } from "./expect.ts";
import type { Scenario } from "./scenario.ts";
import { algNoneToken, expiredRandomKeyToken, forgedIdToken, randomKeyToken, tamperedToken } from "./tokens.ts";

const hasError = (json: unknown) => typeof (json as { error?: unknown } | undefined)?.error === "string";

/** Decodes a JWT's header or payload (no verification: the suite does not know the secret). */
const decodePart = (token: string, index: number): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split(".")[index] ?? "", "base64url").toString("utf8"));

/** PROTOCOL §2: a good guest session. */
export const sessionGood: Scenario = {
  name: "The session endpoint answers a valid username with a token, the username and expiresAt",
  needsGuestSession: true,
  async run(context) {
    const username = context.username("Lucy");
    const answer = await context.postSession(JSON.stringify({ username }));
    const body = answer.json as { token?: unknown; username?: unknown; expiresAt?: unknown } | undefined;
    check(answer.status === 200, "the session was not granted", `200 {"token","username","expiresAt"}`, answer.text);
    check(typeof body?.token === "string" && body.token.split(".").length === 3, "no JWT", "a token", body);
    equal(body.username, username, "the session names another user");
    check(
      typeof body.expiresAt === "number" && body.expiresAt > Date.now(),
      "bad expiresAt",
      "a future epoch ms",
      body,
    );
    equal(decodePart(body.token, 0).alg, "HS256", "the token's algorithm");
    const claims = decodePart(body.token, 1);
    equal(claims.sub, username, "the token's sub");
    check(
      typeof claims.iat === "number" && claims.exp === body.expiresAt / 1000,
      "the token's iat and exp do not match expiresAt",
      `iat, and exp = expiresAt / 1000 = ${body.expiresAt / 1000}`,
      claims,
    );
  },
};

/** PROTOCOL §2: bad guest bodies get 400/413 with an error, never a 500. */
export const sessionBad: Scenario = {
  name: "The session endpoint answers bad input with 400 or 413 and an error, never 500",
  needsGuestSession: true,
  async run(context) {
    const cases: [string, string, number][] = [
      ["no username", "{}", 400],
      ["an empty username", JSON.stringify({ username: "" }), 400],
      ["a blank username", JSON.stringify({ username: "   " }), 400],
      ["the server's name", JSON.stringify({ username: "<server>" }), 400],
      ["a slash in the username", JSON.stringify({ username: "a/b" }), 400],
      ["33 characters", JSON.stringify({ username: "x".repeat(33) }), 400],
      ["a number", JSON.stringify({ username: 42 }), 400],
      ["a body that is not JSON", "not json", 400],
      ["a JSON array", "[]", 400],
      ["a body over 16 KiB", JSON.stringify({ username: "Lucy", padding: "p".repeat(17 * 1024) }), 413],
    ];
    const wrong: string[] = [];
    for (const [what, body, status] of cases) {
      const answer = await context.postSession(body);
      if (answer.status !== status || (status === 400 && !hasError(answer.json))) {
        wrong.push(`${what} → HTTP ${answer.status} ${show(answer.text, 80)}`);
      }
    }
    check(wrong.length === 0, "bad session input answered otherwise", "400 {error} (413 for the large body)", wrong);
  },
};

/** PROTOCOL §2 (v2): in OIDC mode a guest body and a forged ID token are refused. */
export const sessionOidcRefusals: Scenario = {
  name: "In OIDC mode the session endpoint refuses a guest body and a forged ID token with 401",
  needsGuestSession: false,
  onlyInMode: "oidc",
  async run(context) {
    const username = context.username("Lucy");
    const guest = await context.postSession(JSON.stringify({ username }));
    check(guest.status === 401 && hasError(guest.json), "a guest body was not refused", '401 {"error"}', guest.text);
    const forged = await context.postSession("{}", { authorization: `Bearer ${forgedIdToken(username)}` });
    check(forged.status === 401 && hasError(forged.json), "a forged ID token", '401 {"error"}', forged.text);
  },
};

/** PROTOCOL §3: refused handshakes, and nothing reaches the channel's members because of them. */
export const handshakeRefusals: Scenario = {
  name: "The handshake refuses no token, a bad signature, an expired token, alg none and an invalid channel, and tells no one",
  needsGuestSession: false,
  async run(context) {
    const channel = context.channel("refusals");
    const guest = context.config.auth.mode === "guest";
    const watcher = guest ? await context.join(context.username("watcher"), channel) : undefined;
    const intruder = context.username("intruder");
    const denied = [401, 403];
    refused(await context.handshake({ channel }), [401], "a handshake without a token");
    refused(await context.handshake({ channel, token: await randomKeyToken(intruder) }), denied, "a random-key token");
    refused(
      await context.handshake({ channel }, ["chat.v1", await randomKeyToken(intruder)]),
      denied,
      "as subprotocol",
    );
    refused(await context.handshake({ channel, token: algNoneToken(intruder) }), denied, "an alg none token");
    const expired = await expiredRandomKeyToken(intruder);
    refused(await context.handshake({ channel, token: expired }), denied, "an expired token");
    if (context.signToken) {
      const signed = await context.signToken(intruder, Date.now() - 2 * 3_600_000, 3_600);
      refused(await context.handshake({ channel, token: signed }), denied, "an expired, validly signed token");
    } else {
      context.note("the expired token is signed with a random key: a validly signed one needs the deployment's secret");
    }
    if (!watcher) return context.note("OIDC mode: the invalid channel and the watcher need a session (ID token)");

    const token = await context.token(intruder);
    refused(await context.handshake({ channel, token: tamperedToken(token, watcher.label) }), denied, "tampered");
    for (const bad of ["no spaces", "", "x".repeat(65), "dots.not.allowed"]) {
      refused(await context.handshake({ channel: bad, token }), [403], `the invalid channel ${JSON.stringify(bad)}`);
    }
    await noticesOnlyFor(context, watcher, channel);
  },
};

/** A newcomer joins after the refusals: the watcher gets its notice, and must have had nothing before it. */
async function noticesOnlyFor(context: ScenarioContext, watcher: ChatSocket, channel: string): Promise<void> {
  const newcomer = context.username("newcomer");
  await context.join(newcomer, channel);
  const notice = `${newcomer} connected`;
  await watcher.next((frame) => frame.type === "system" && frame.message === notice, `"${notice}"`);
  await roundTrip(watcher);
  const expected = (frame: ServerFrame) =>
    (frame.type === "system" && frame.message === notice) || frame.type === "pong";
  receivedNone(watcher, (frame) => !expected(frame), "frames from refusals");
}
