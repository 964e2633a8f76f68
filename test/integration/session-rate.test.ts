import { describe, expect, it } from "vitest";
import { startTestStack } from "./harness.ts";

describe("the session rate per source IP", () => {
  it("grants CHAT_SESSION_RATE sessions a minute to one address and refuses the next with 429 and Retry-After", async () => {
    const limited = await startTestStack({ sessionRate: 3 });
    try {
      const post = () =>
        fetch(limited.sessionUrl, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: '{"username":"Lucy"}',
        });
      // Counted in fixed minutes: the four requests must fall in one, so near a minute's end wait for the next.
      const left = 60_000 - (Date.now() % 60_000);
      if (left < 5_000) await new Promise((resolve) => setTimeout(resolve, left + 10));
      for (let i = 0; i < 3; i++) expect((await post()).status).toBe(200);
      const refused = await post();
      expect(refused.status).toBe(429);
      const retryAfter = Number(refused.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect((await refused.json()).error).toMatch(/too many new sessions/);
    } finally {
      await limited.close();
    }
  });
});
