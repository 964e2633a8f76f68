import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseClientFrame } from "../../lambda/core/client-frames.ts";
import { encodeFrame, HistoryPageBudget } from "../../lambda/core/frame-size.ts";
import { limits } from "../../lambda/core/limits.ts";
import { parseChannel, parseUsername } from "../../lambda/core/names.ts";
import {
  errorFrame,
  historyFrame,
  type MessageFrame,
  presenceFrame,
  type ServerFrame,
  systemFrame,
} from "../../lambda/core/server-frames.ts";

// Every frame the server can build stays within API Gateway's 128 KiB, counted in encoded bytes: a control character
// escapes to six bytes of JSON, an astral code point takes four bytes of UTF-8 (and counts as one character).

const MAX = 128 * 1024;
const bytes = (frame: ServerFrame) => encodeFrame(frame).byteLength;

/** Characters at their most expensive in JSON and UTF-8, and some ordinary ones. */
const costlyChar = fc.oneof(
  fc.integer({ min: 0, max: 0x1f }).map((code) => String.fromCharCode(code)),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)),
  fc.integer({ min: 0x10000, max: 0x10ffff }).map((code) => String.fromCodePoint(code)),
  fc.constantFrom('"', "\\", "\u2028", "\u007f", "é", "x"),
);
/** Chat messages as the parser accepts them: 1–4,000 code points after trimming, often the full 4,000. */
const messageText = fc
  .oneof(
    fc.constantFrom("\u0000", "\u0001", "𝐀", "\ud800", '"').map((char) => char.repeat(limits.messageMaxChars)),
    fc.string({ unit: costlyChar, minLength: limits.messageMaxChars, maxLength: limits.messageMaxChars }),
    fc.string({ unit: costlyChar, minLength: 1, maxLength: 200 }),
  )
  .map((text) => {
    const parsed = parseClientFrame(JSON.stringify({ action: "send", message: `x${text}x` }));
    return parsed.ok && parsed.request.action === "send" ? parsed.request.message : "x";
  });
/** Valid usernames up to 32 code points, many of them four-byte letters. */
const username = fc
  .oneof(
    fc.constant("𝐀".repeat(limits.usernameMaxChars)),
    fc.string({ unit: fc.constantFrom("𝐀", "Å", "a", "_", "ß", "字"), minLength: 1, maxLength: 32 }),
  )
  .filter((name) => parseUsername(name).ok);
const channel = fc.oneof(
  fc.constant("c".repeat(limits.channelMaxChars)),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/).filter((name) => parseChannel(name).ok),
);
const message = fc.record({
  type: fc.constant("message" as const),
  id: fc.uuid(),
  from: username,
  message: messageText,
  channel,
  timestamp: fc.integer({ min: 0, max: 8.64e15 }),
});

describe("server frames within 128 KiB", () => {
  it("holds for chat messages and system notices", () => {
    fc.assert(
      fc.property(message, username, (frame: MessageFrame, name) => {
        expect(bytes(frame)).toBeLessThanOrEqual(MAX);
        expect(bytes(systemFrame(frame.channel, `${name} disconnected`, frame.timestamp))).toBeLessThanOrEqual(MAX);
      }),
      { numRuns: 300 },
    );
  });

  it("holds for a history page of any messages, sized exactly, never empty while a message is offered", () => {
    fc.assert(
      fc.property(channel, fc.array(message, { maxLength: 70 }), fc.boolean(), (name, offered, more) => {
        const budget = new HistoryPageBudget(name);
        const taken: MessageFrame[] = [];
        for (const frame of offered) {
          if (!budget.admit(frame)) break;
          taken.push(frame);
        }
        const page = historyFrame(name, taken, more);
        expect(bytes(page)).toBeLessThanOrEqual(MAX);
        expect(bytes(page)).toBeLessThanOrEqual(budget.frameBytes);
        expect(bytes(historyFrame(name, taken, false))).toBe(budget.frameBytes);
        expect(taken.length).toBeLessThanOrEqual(limits.historySize);
        if (offered.length > 0) expect(taken.length).toBeGreaterThan(0);
        if (taken.length < Math.min(offered.length, limits.historySize)) {
          const next = offered[taken.length] as MessageFrame;
          expect(bytes(historyFrame(name, [...taken, next], false))).toBeGreaterThan(MAX);
        }
      }),
      { numRuns: 150 },
    );
  });

  it("holds for presence: 100 names of 32 four-byte letters, in a 64-character channel", () => {
    fc.assert(
      fc.property(fc.array(username, { minLength: 100, maxLength: 100 }), channel, (users, name) => {
        expect(bytes(presenceFrame(name, users, Number.MAX_SAFE_INTEGER))).toBeLessThanOrEqual(MAX);
      }),
      { numRuns: 50 },
    );
  });

  it("holds for the error frame of any refused client frame up to API Gateway's 32 KiB", () => {
    const body = fc.oneof(
      fc.string({ unit: costlyChar, maxLength: 200 }),
      fc.string({ unit: costlyChar, maxLength: 200 }).map((action) => JSON.stringify({ action })),
      fc.string({ unit: costlyChar, minLength: 8_000, maxLength: 8_100 }),
      fc.jsonValue().map((value) => JSON.stringify({ action: "history", before: value })),
    );
    fc.assert(
      fc.property(body, (text) => {
        const parsed = parseClientFrame(text);
        if (!parsed.ok) expect(bytes(errorFrame(parsed.refusal.code, parsed.refusal.message))).toBeLessThanOrEqual(MAX);
      }),
      { numRuns: 300 },
    );
  });

  it("pages 50 messages of 4,000 control characters, which would take 1.2 MB as one frame", () => {
    const worst = (i: number): MessageFrame => ({
      type: "message",
      id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      from: "𝐀".repeat(32),
      message: "\u0001".repeat(4_000),
      channel: "c".repeat(64),
      timestamp: 1_764_082_800_000 + i,
    });
    const all = Array.from({ length: 50 }, (_, i) => worst(i));
    expect(bytes(historyFrame("c".repeat(64), all, false))).toBeGreaterThan(1_200_000);
    const budget = new HistoryPageBudget("c".repeat(64));
    const taken = all.filter((frame) => budget.admit(frame));
    expect(taken).toHaveLength(5);
    expect(budget.frameBytes).toBeLessThanOrEqual(MAX);
  });
});
