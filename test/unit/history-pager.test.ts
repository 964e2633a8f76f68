import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { HistoryPager, type HistoryPosition, type PageKind } from "../../web/src/history-pager.ts";
import { ANSWER_MS, nextWindowDelay, RETRIES } from "../../web/src/retried-request.ts";

/** 3 s into a rate window (windows are 10 s, aligned to the epoch). */
const START = 1_700_000_003_000;
const newest = { timestamp: 1, id: "m1" };
const page = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({ timestamp: from + i, id: `m${from + i}` }));

/** A pager whose requests, catching up and failures are recorded; the jitter is always its least. */
function recordedPager() {
  const asked: HistoryPosition[] = [];
  const events: string[] = [];
  let online = true;
  const pager = new HistoryPager(
    {
      request: (position) => online && asked.push(position) > 0,
      caughtUp: () => events.push("caught up"),
      failed: (kind: PageKind) => events.push(`failed ${kind}`),
    },
    { random: () => 0 },
  );
  return { pager, asked, events, offline: () => (online = false) };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(START);
});
afterEach(() => vi.useRealTimers());

describe("nextWindowDelay", () => {
  it("waits into the next rate window by the page's clock, plus up to a second and a quarter", () => {
    expect(nextWindowDelay(START, () => 0)).toBe(7_250);
    expect(nextWindowDelay(START + 6_999, () => 0.999)).toBe(1 + 250 + 999);
    expect(nextWindowDelay(START - 3_000, () => 0)).toBe(10_250);
  });
});

describe("HistoryPager", () => {
  it("fills a gap with `after` pages while `more`, then is caught up", () => {
    const { pager, asked, events } = recordedPager();
    pager.opened(newest);
    expect(pager.answered(page(2, 50), true)).toEqual({ live: true });
    expect(pager.answered(page(52, 3), false)).toEqual({ live: true });
    expect(asked).toEqual([{ after: newest }, { after: { timestamp: 51, id: "m51" } }]);
    expect(events).toEqual(["caught up"]);
  });

  it("asks a refused gap page again in the next rate window, and goes on filling the gap: never caught up before", () => {
    const { pager, asked, events } = recordedPager();
    pager.opened(newest);
    pager.answered(page(2, 50), true);
    pager.refused();
    expect(pager.waiting).toBe(true);
    vi.advanceTimersByTime(7_249);
    expect(asked).toHaveLength(2);
    expect(events).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(asked).toEqual([
      { after: newest },
      { after: { timestamp: 51, id: "m51" } },
      { after: { timestamp: 51, id: "m51" } },
    ]);
    pager.answered(page(52, 3), false);
    expect(events).toEqual(["caught up"]);
  });

  it("does not ask again when the answer comes after all (the refusal was another request's)", () => {
    const { pager, asked, events } = recordedPager();
    pager.opened(undefined);
    pager.refused();
    pager.answered(page(1, 10), true);
    vi.advanceTimersByTime(60_000);
    expect(asked).toEqual([{}]);
    expect(events).toEqual(["caught up"]);
    expect(pager.olderMore).toBe(true);
  });

  it("takes a refusal for the page on the wire only: one already waiting to go again is not pushed further back", () => {
    const { pager, asked } = recordedPager();
    pager.opened(newest);
    pager.refused();
    vi.advanceTimersByTime(5_000);
    pager.refused();
    vi.advanceTimersByTime(2_250);
    expect(asked).toHaveLength(2);
  });

  it("asks again for a page left unanswered", () => {
    const { pager, asked, events } = recordedPager();
    pager.opened(newest);
    vi.advanceTimersByTime(ANSWER_MS);
    expect(asked).toHaveLength(1);
    vi.advanceTimersByTime(nextWindowDelay(Date.now(), () => 0));
    expect(asked).toHaveLength(2);
    expect(events).toEqual([]);
  });

  it(`gives up after ${RETRIES} retries refused in a row and says so, without being caught up`, () => {
    const { pager, asked, events } = recordedPager();
    pager.opened(newest);
    for (let i = 0; i < RETRIES; i++) {
      pager.refused();
      vi.advanceTimersByTime(10_250);
    }
    expect(asked).toHaveLength(RETRIES + 1);
    expect(events).toEqual([]);
    pager.refused();
    expect(events).toEqual(["failed after"]);
    expect(pager.waiting).toBe(false);
    vi.advanceTimersByTime(60_000);
    expect(asked).toHaveLength(RETRIES + 1);
  });

  it("counts the retries of each page apart: an answer starts the next page's count afresh", () => {
    const { pager, asked, events } = recordedPager();
    pager.opened(newest);
    for (let page = 0; page < 3; page++) {
      for (let i = 0; i < RETRIES; i++) {
        pager.refused();
        vi.advanceTimersByTime(10_250);
      }
      pager.answered([{ timestamp: 10 + page, id: `p${page}` }], true);
    }
    expect(asked).toHaveLength(3 * (RETRIES + 1) + 1);
    expect(events).toEqual([]);
  });

  it("an older page given up is said as such, and the reader may ask for it again", () => {
    const { pager, asked, events } = recordedPager();
    pager.opened(undefined);
    pager.answered(page(100, 50), true);
    pager.wantOlder({ timestamp: 100, id: "m100" });
    for (let i = 0; i <= RETRIES; i++) {
      pager.refused();
      vi.advanceTimersByTime(10_250);
    }
    expect(events).toEqual(["caught up", "failed before"]);
    pager.wantOlder({ timestamp: 100, id: "m100" });
    expect(asked.at(-1)).toEqual({ before: { timestamp: 100, id: "m100" } });
    expect(asked).toHaveLength(RETRIES + 3);
  });

  it("forgets a retry on another channel or a new connection, and one due while offline", () => {
    const { pager, asked, offline } = recordedPager();
    pager.opened(newest);
    pager.refused();
    pager.reset();
    vi.advanceTimersByTime(60_000);
    expect(asked).toHaveLength(1);
    pager.opened(newest);
    pager.refused();
    pager.opened(newest);
    vi.advanceTimersByTime(9_000);
    expect(asked).toHaveLength(3);
    pager.refused();
    offline();
    vi.advanceTimersByTime(60_000);
    expect(asked).toHaveLength(3);
    expect(pager.waiting).toBe(false);
  });

  it("takes an answer nobody waits for (a page asked twice) as older messages, changing nothing", () => {
    const { pager, events } = recordedPager();
    pager.opened(undefined);
    pager.answered(page(1, 50), true);
    expect(pager.answered(page(1, 10), false)).toEqual({ live: false });
    expect(pager.olderMore).toBe(true);
    expect(events).toEqual(["caught up"]);
  });
});
