import type { MessageFrame } from "../../lambda/core/server-frames.ts";
import type { ChatSocket } from "./client.ts";
import { WaitTimeoutError } from "./conformance-error.ts";
import { check, equal } from "./expect.ts";
import type { Scenario } from "./scenario.ts";

const SENDERS = 4;
/** Per sender, under the 20-a-window rate so the whole fill takes one burst. */
const PER_SENDER = 15;
/** 60 messages of 3,000 characters are ~180 KiB: more than one 128 KiB frame, so any server has to page. */
const PADDING = "h".repeat(3_000);
/** A bound on pages, so a server that always says `more` fails instead of looping. */
const MAX_PAGES = 30;

type Cursor = { timestamp: number; id: string };
const cursor = (frame: MessageFrame): Cursor => ({ timestamp: frame.timestamp, id: frame.id });
const byTimeThenId = (a: MessageFrame, b: MessageFrame) =>
  a.timestamp - b.timestamp || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Asks for one page; checks the v2 fields. */
async function page(
  reader: ChatSocket,
  channel: string,
  request: object,
): Promise<{ messages: MessageFrame[]; more: boolean }> {
  reader.send({ action: "history", ...request });
  const answer = await reader.nextOfType("history").catch((error: unknown) => {
    if (!(error instanceof WaitTimeoutError)) throw error;
    // API Gateway drops a reply over 128 KiB without a word: a page not sized to fit never comes.
    throw new WaitTimeoutError(
      `${error.message}: no history page came (a reply over 128 KiB is dropped)`,
      error.expected,
      error.received,
    );
  });
  const more = (answer as { more?: unknown }).more;
  check(typeof more === "boolean", "a history page without more (v2)", '"more": true or false', answer);
  equal(answer.channel, channel, "the history page's channel");
  return { messages: answer.messages as MessageFrame[], more };
}

/**
 * The newest page, asked for again until it holds `newestId` or `timeoutMs` has passed: the history query is
 * eventually consistent on AWS (DynamoDB Developer Guide, "Read consistency"), so right after delivery it may miss
 * the newest messages.
 */
export async function firstPage(
  reader: ChatSocket,
  channel: string,
  newestId: string,
  timeoutMs: number,
): Promise<{ messages: MessageFrame[]; more: boolean }> {
  const deadline = Date.now() + timeoutMs;
  let answer = await page(reader, channel, {});
  while (!answer.messages.some((frame) => frame.id === newestId) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    answer = await page(reader, channel, {});
  }
  return answer;
}

/** PROTOCOL §4 (v2): `history` with `more`, `before` and `after` pages through everything, each message once. */
export const historyPaging: Scenario = {
  name: "history pages back with before and forward with after through 60 messages, each exactly once in order",
  needsGuestSession: true,
  async run(context) {
    const room = context.channel("room");
    const reader = await context.join(context.username("reader"), room);
    const senders: ChatSocket[] = [];
    for (let s = 0; s < SENDERS; s++) senders.push(await context.join(context.username(`s${s}`), room));
    senders.forEach((sender, s) => {
      for (let i = 0; i < PER_SENDER; i++)
        sender.send({ action: "send", message: `m${s * PER_SENDER + i} ${PADDING}` });
    });
    const total = SENDERS * PER_SENDER;
    const delivered = (await reader.collect((frame) => frame.type === "message", total, "a message")) as MessageFrame[];
    const sorted = [...delivered].sort(byTimeThenId);
    const expected = sorted.map((frame) => frame.id);

    const back: MessageFrame[][] = [];
    let answer = await firstPage(reader, room, expected.at(-1) ?? "", context.timeoutMs);
    back.unshift(answer.messages);
    while (answer.more && back.length < MAX_PAGES) {
      const oldest = answer.messages[0];
      check(oldest !== undefined, "more: true on an empty page", "messages, or more: false", answer);
      answer = await page(reader, room, { before: cursor(oldest) });
      back.unshift(answer.messages);
    }
    equal(
      back.flat().map((frame) => frame.id),
      expected,
      "the ids paged back with before (oldest first)",
    );
    equal(back.flat(), sorted, "the frames paged back, as they were delivered");
    check(back.length > 1, "one history page held ~180 KiB", "several pages", `${back.length} page`);

    const first = back.flat()[0] as MessageFrame;
    const forward: MessageFrame[][] = [];
    answer = { messages: [first], more: true };
    while (answer.more && forward.length < MAX_PAGES) {
      const newest = answer.messages.at(-1);
      check(newest !== undefined, "more: true on an empty page", "messages, or more: false", answer);
      answer = await page(reader, room, { after: cursor(newest) });
      forward.push(answer.messages);
    }
    equal(
      forward.flat().map((frame) => frame.id),
      expected.slice(1),
      "the ids paged forward with after the oldest",
    );
    const last = forward.flat().at(-1) ?? first;
    equal(await page(reader, room, { after: cursor(last) }), { messages: [], more: false }, "after the newest");
    context.note(`${back.length} pages back, ${forward.length} forward`);
  },
};
