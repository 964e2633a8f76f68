import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { connect, startTestStack } from "./harness.ts";

const dataDir = await mkdtemp(join(tmpdir(), "chat-data-"));
afterAll(() => rm(dataDir, { recursive: true, force: true }));

describe("CHAT_DATA_DIR", () => {
  it("keeps the history across a restart of the local stack", async () => {
    const first = await startTestStack({ dataDir });
    const lucy = await connect(first, "Lucy", "persist");
    lucy.send("remember me");
    await lucy.ofType("message");
    await lucy.close();
    await first.close();

    const second = await startTestStack({ dataDir });
    try {
      const bob = await connect(second, "Bob", "persist");
      bob.send({ action: "history" });
      const history = await bob.ofType("history");
      expect(history.messages).toEqual([
        expect.objectContaining({ from: "Lucy", message: "remember me", channel: "persist" }),
      ]);
      await bob.close();
    } finally {
      await second.close();
    }
  });
});
