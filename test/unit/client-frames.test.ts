import { describe, expect, it } from "vitest";
import { parseClientFrame } from "../../lambda/core/client-frames.ts";

describe("client frames", () => {
  it("reads plain text as a chat message, trimmed", () => {
    expect(parseClientFrame("  hello  ")).toEqual({ ok: true, request: { action: "send", message: "hello" } });
  });

  it.each([
    '{"action":"send"',
    '{"message":"hi"}',
    "[1,2]",
    "null",
    '"quoted"',
    "42",
    '{"__proto__":{"action":"who"}}',
  ])("reads %s as chat text, since it is not a JSON object with an action", (text) => {
    expect(parseClientFrame(text)).toEqual({ ok: true, request: { action: "send", message: text } });
  });

  it("reads a send frame", () => {
    expect(parseClientFrame('{"action":"send","message":" hi "}')).toEqual({
      ok: true,
      request: { action: "send", message: "hi" },
    });
  });

  it.each(["ping", "who", "history"])("reads a %s frame", (action) => {
    expect(parseClientFrame(JSON.stringify({ action }))).toEqual({ ok: true, request: { action } });
  });

  it.each([
    ['{"action":"send"}', "bad_request"],
    ['{"action":"send","message":5}', "bad_request"],
    ['{"action":"send","message":"   "}', "bad_request"],
    ['{"action":7}', "bad_request"],
    ['{"action":"dance"}', "unknown_action"],
    ['{"action":"constructor"}', "unknown_action"],
    ['{"action":"toString"}', "unknown_action"],
    ["   ", "bad_request"],
  ])("refuses %s with %s", (text, code) => {
    const parsed = parseClientFrame(text);
    expect(parsed.ok ? undefined : parsed.refusal.code).toBe(code);
  });

  it("refuses a message over 4,000 characters as too_large and accepts exactly 4,000", () => {
    expect(parseClientFrame("x".repeat(4000)).ok).toBe(true);
    const parsed = parseClientFrame(JSON.stringify({ action: "send", message: "x".repeat(4001) }));
    expect(parsed.ok ? undefined : parsed.refusal.code).toBe("too_large");
  });

  it("refuses a binary frame", () => {
    const parsed = parseClientFrame("aGVsbG8=", true);
    expect(parsed.ok ? undefined : parsed.refusal).toEqual({
      code: "bad_request",
      message: expect.stringMatching(/binary/),
    });
  });
});
