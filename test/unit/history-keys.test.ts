import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { slotKey, slotOf, slotPrefix, windowKey, windowOf, windowPartOf } from "../../lambda/core/history-keys.ts";
import { NOW } from "../fixtures.ts";

describe("history keys", () => {
  it("put the epoch-aligned window, the connection and the slot in one key", () => {
    expect(windowOf(NOW, 10_000)).toBe(176_408_280);
    expect(windowOf(NOW + 9_999, 10_000)).toBe(176_408_280);
    expect(windowOf(NOW + 10_000, 10_000)).toBe(176_408_281);
    expect(slotKey(176_408_280, "LucyConnId0=", 7)).toBe("000000176408280#LucyConnId0=#0007");
    expect(slotOf("000000176408280#LucyConnId0=#0007")).toBe(7);
    expect(windowPartOf("000000176408280#LucyConnId0=#0007")).toBe(windowKey(176_408_280));
  });

  it("sort every key of an earlier window before every key of a later one", () => {
    const id = fc.stringMatching(/^[A-Za-z0-9+/=_-]{1,24}$/);
    const key = fc.tuple(fc.integer({ min: 0, max: 10 ** 12 }), id, fc.integer({ min: 0, max: 9_999 }));
    fc.assert(
      fc.property(key, key, ([windowA, idA, slotA], [windowB, idB, slotB]) => {
        fc.pre(windowA < windowB);
        expect(slotKey(windowA, idA, slotA) < slotKey(windowB, idB, slotB)).toBe(true);
        expect(slotKey(windowA, idA, slotA) < windowKey(windowB)).toBe(true);
      }),
    );
  });

  it("never let one connection's prefix match another connection's keys", () => {
    expect(slotKey(1, "abc", 0).startsWith(slotPrefix(1, "ab"))).toBe(false);
    expect(slotKey(1, "ab", 0).startsWith(slotPrefix(1, "ab"))).toBe(true);
  });

  it.each([[""], ["a#b"]])("refuse the connection id %j with a clear error", (id) => {
    expect(() => slotPrefix(1, id)).toThrow(/connection id must be non-empty and free of "#"/);
  });

  it.each([[-1], [10_000], [1.5]])("refuse slot %d", (slot) => {
    expect(() => slotKey(1, "a", slot)).toThrow(`no slot ${slot}`);
  });
});
