import type { ChatSocket } from "./client.ts";
import { check, equal, receivedNone, roundTrip } from "./expect.ts";
import type { Scenario, Unprovokable } from "./scenario.ts";

const RATE_WINDOW_MS = 10_000;
const RATE_MAX_MESSAGES = 20;

const isError = (code: string) => (frame: { type: string; code?: string }) =>
  frame.type === "error" && frame.code === code;

/** PROTOCOL §5: each error code that can be provoked from outside, to the sender alone, the connection kept. */
export const errorCodes: Scenario = {
  name: "Bad frames are answered bad_request, too_large or unknown_action, to the sender alone, and the connection stays open",
  needsGuestSession: true,
  async run(context) {
    const room = context.channel("room");
    const lucy = await context.join(context.username("Lucy"), room);
    const watcher = await context.join(context.username("watcher"), room);
    const cases: [string, unknown, string][] = [
      ["send without a message", { action: "send" }, "bad_request"],
      ["a message that is a number", { action: "send", message: 42 }, "bad_request"],
      ["an action that is not a string", { action: 7 }, "bad_request"],
      ["4,001 characters", { action: "send", message: "x".repeat(4_001) }, "too_large"],
      ["an unknown action", { action: "dance" }, "unknown_action"],
    ];
    for (const [what, frame, code] of cases) {
      lucy.send(frame);
      const answer = await lucy.next(isError(code), `error ${code} for ${what}`);
      check(answer.type === "error" && answer.message.length > 0, "an error without a message", "message", answer);
    }
    const longest = "y".repeat(4_000);
    lucy.send({ action: "send", message: longest });
    await watcher.next((frame) => frame.type === "message" && frame.message === longest, "the 4,000-character message");
    // The pong proves that everything sent to the watcher before it has arrived.
    await roundTrip(watcher);
    receivedNone(watcher, (frame) => frame.type === "error", "errors meant for another member");
    receivedNone(watcher, (frame) => frame.type === "message" && frame.message !== longest, "a refused message");
  },
};

/** What the protocol says of error codes a guest cannot provoke. */
export const unprovokable: Unprovokable[] = [
  {
    name: "internal is answered when the server fails",
    reason: "not provokable from outside: it is the server's fault",
  },
];

/** Sends a frame that makes the server close the connection; checks the code, and that the others see only a leave. */
async function closedWith(
  sender: ChatSocket,
  watcher: ChatSocket,
  send: () => void,
  code: number,
  what: string,
): Promise<void> {
  send();
  const closed = await sender.waitClosed(`the connection to close with ${code} after ${what}`);
  equal(closed.code, code, `the close code after ${what}`);
  const left = `${sender.label} disconnected`;
  await watcher.next((frame) => frame.type === "system" && frame.message === left, `"${left}"`);
  await roundTrip(watcher);
  receivedNone(watcher, (frame) => frame.type === "message", `a message from ${what}`);
  watcher.send({ action: "history" });
  const history = await watcher.nextOfType("history");
  equal(history.messages, [], `the channel's history after ${what} (nothing stored)`);
}

/** PROTOCOL "Names and limits": API Gateway closes on a frame over 32 KiB. */
export const frameTooLarge: Scenario = {
  name: "A frame over 32 KiB closes the connection with 1009",
  needsGuestSession: true,
  async run(context) {
    const room = context.channel("room");
    const lucy = await context.join(context.username("Lucy"), room);
    const watcher = await context.join(context.username("watcher"), room);
    await closedWith(lucy, watcher, () => lucy.send("z".repeat(32 * 1024 + 1)), 1009, "a 32 KiB + 1 byte frame");
  },
};

/** PROTOCOL §4 (v2): API Gateway closes on a binary frame and invokes no route. */
export const binaryFrame: Scenario = {
  name: "A binary frame closes the connection with 1003",
  needsGuestSession: true,
  async run(context) {
    const room = context.channel("room");
    const lucy = await context.join(context.username("Lucy"), room);
    const watcher = await context.join(context.username("watcher"), room);
    const send = () => lucy.socket.send(Buffer.from('{"action":"send","message":"binary"}'), { binary: true });
    await closedWith(lucy, watcher, send, 1003, "a binary frame");
  },
};

/** The server's clock minus ours, from the pong with the shortest round trip (the rate windows are the server's). */
async function serverClockOffset(socket: ChatSocket): Promise<number> {
  let best = { roundTrip: Number.POSITIVE_INFINITY, offset: 0 };
  for (let i = 0; i < 3; i++) {
    const sent = Date.now();
    socket.send({ action: "ping" });
    const pong = await socket.nextOfType("pong");
    const got = Date.now();
    if (got - sent < best.roundTrip) best = { roundTrip: got - sent, offset: pong.timestamp - (sent + got) / 2 };
  }
  return best.offset;
}

/**
 * Waits, unless one has just begun, for the start of a rate window by the server's clock: windows are fixed and
 * aligned to the epoch (docs/protocol.md "Rate limit"), so a burst sent then lands in one window.
 */
export async function startOfRateWindow(socket: ChatSocket): Promise<void> {
  const offset = await serverClockOffset(socket);
  const into = (Date.now() + offset) % RATE_WINDOW_MS;
  if (into > 1_000) await new Promise((resolve) => setTimeout(resolve, RATE_WINDOW_MS - into + 200));
}

/** PROTOCOL "Names and limits": 20 chat messages per 10 s; the 21st → `rate_limited`. */
export const rateLimit: Scenario = {
  name: "The 21st chat message within one 10-second window is answered rate_limited",
  needsGuestSession: true,
  async run(context) {
    const room = context.channel("room");
    const lucy = await context.join(context.username("Lucy"), room);
    await startOfRateWindow(lucy);
    for (let i = 1; i <= RATE_MAX_MESSAGES + 1; i++) lucy.send(`rate ${i}`);
    const ours = (frame: { type: string; from?: string }) => frame.type === "error" || frame.from === lucy.label;
    const answers = await lucy.collect(ours, RATE_MAX_MESSAGES + 1, "an answer to the burst");
    const messages = answers.flatMap((frame) => (frame.type === "message" ? [frame] : []));
    const errors = answers.flatMap((frame) => (frame.type === "error" ? [frame.code] : []));
    equal(errors, ["rate_limited"], "the errors answering 21 chat messages");
    equal(messages.length, RATE_MAX_MESSAGES, "the messages delivered of 21");
    const windows = new Set(messages.map((frame) => Math.floor(frame.timestamp / RATE_WINDOW_MS)));
    check(windows.size === 1, "the burst straddled two rate windows (clocks apart?)", "one window", [...windows]);
    await roundTrip(lucy);
  },
};
