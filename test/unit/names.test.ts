import { describe, expect, it } from "vitest";
import { compareCodePoints, parseChannel, parseUsername } from "../../lambda/core/names.ts";

describe("usernames", () => {
  it.each(["Lucy", "  Lucy  ", "Zoë", "李小龍", "a.b_c-d 1", "x".repeat(32), "Ünïcödé", "नमस्ते"])(
    "accepts %j",
    (name) => {
      expect(parseUsername(name)).toEqual({ ok: true, value: name.trim() });
    },
  );

  it.each([
    ["", /empty/],
    ["   ", /empty/],
    ["x".repeat(33), /at most 32/],
    ["<server>", /reserved/],
    ["Lucy<script>", /may hold only/],
    ["tab\there", /may hold only/],
    [42, /string/],
    [undefined, /string/],
  ])("refuses %j", (name, error) => {
    const result = parseUsername(name);
    expect(result.ok).toBe(false);
    expect(result.ok ? "" : result.error).toMatch(error);
  });

  it("counts code points, not UTF-16 units", () => {
    const astral = "𝒜".repeat(32); // 64 UTF-16 units, 32 code points
    expect(parseUsername(astral)).toEqual({ ok: true, value: astral });
    expect(parseUsername(`${astral}𝒜`).ok).toBe(false);
  });
});

describe("channels", () => {
  it("defaults an absent channel to default", () => {
    expect(parseChannel(undefined)).toEqual({ ok: true, value: "default" });
  });

  it.each(["support", "a", "A-Z_0-9", "x".repeat(64)])("accepts %j", (channel) => {
    expect(parseChannel(channel)).toEqual({ ok: true, value: channel });
  });

  it.each(["", "x".repeat(65), "sup port", "support!", "ünï", "../etc", null])("refuses %j", (channel) => {
    expect(parseChannel(channel).ok).toBe(false);
  });
});

describe("code point order", () => {
  it("sorts astral characters after the BMP private use area, unlike UTF-16 order", () => {
    const names = ["\u{1F600}", "\uFB01", "a"];
    expect([...names].sort()).toEqual(["a", "\u{1F600}", "\uFB01"]);
    expect([...names].sort(compareCodePoints)).toEqual(["a", "\uFB01", "\u{1F600}"]);
  });

  it("puts a prefix first and equal strings level", () => {
    expect(compareCodePoints("Bob", "Bobby")).toBeLessThan(0);
    expect(compareCodePoints("Bobby", "Bob")).toBeGreaterThan(0);
    expect(compareCodePoints("Bob", "Bob")).toBe(0);
  });
});
