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

  it.each([
    [{ before: { timestamp: 1_764_082_800_000, id: "m1" } }],
    [{ after: { timestamp: 0, id: "x".repeat(128) } }],
    [{ after: { timestamp: 7, id: "é" } }],
  ])("reads a history frame with the cursor %j", (position) => {
    expect(parseClientFrame(JSON.stringify({ action: "history", ...position }))).toEqual({
      ok: true,
      request: { action: "history", ...position },
    });
  });

  it("drops fields a history cursor does not have", () => {
    const parsed = parseClientFrame('{"action":"history","before":{"timestamp":1,"id":"m1","extra":true},"x":1}');
    expect(parsed).toEqual({ ok: true, request: { action: "history", before: { timestamp: 1, id: "m1" } } });
  });

  it.each([
    ['{"action":"history","before":{"timestamp":1,"id":""}}', /before\.id/],
    [`{"action":"history","before":{"timestamp":1,"id":"${"x".repeat(129)}"}}`, /before\.id/],
    ['{"action":"history","before":{"timestamp":1,"id":7}}', /before\.id/],
    ['{"action":"history","after":{"timestamp":"1","id":"m1"}}', /after\.timestamp/],
    ['{"action":"history","after":{"timestamp":1e999,"id":"m1"}}', /after\.timestamp/],
    ['{"action":"history","after":{"timestamp":-5,"id":"m1"}}', /after\.timestamp/],
    ['{"action":"history","after":{"timestamp":5.5,"id":"m1"}}', /after\.timestamp/],
    ['{"action":"history","after":{"id":"m1"}}', /after\.timestamp/],
    ['{"action":"history","after":null}', /after/],
    ['{"action":"history","before":[1,"m1"]}', /before/],
    ['{"action":"history","before":{"timestamp":1,"id":"a"},"after":{"timestamp":2,"id":"b"}}', /not both/],
  ])("refuses the history frame %s as a bad request", (text, message) => {
    const parsed = parseClientFrame(text);
    expect(parsed.ok ? undefined : parsed.refusal).toEqual({
      code: "bad_request",
      message: expect.stringMatching(message),
    });
  });
});
