import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { RateLimiter } from "../../lambda/core/rate-limiter.ts";
import { CONNECTIONS_TABLE, NOW, testDocumentClient } from "../fixtures.ts";

const ddb = mockClient(DynamoDBDocumentClient);
afterEach(() => ddb.reset());

const conditionFailed = () =>
  new ConditionalCheckFailedException({ message: "The conditional request failed", $metadata: {} });
const limiter = () => new RateLimiter(testDocumentClient(), CONNECTIONS_TABLE);
const countUpdate = { UpdateExpression: "ADD rateCount :one" };
const openUpdate = { UpdateExpression: "SET rateWindowStart = :now, rateCount = :one" };

describe("rate limiter", () => {
  it("allows a message counted in the open window", async () => {
    ddb.on(UpdateCommand, countUpdate).resolves({});
    await expect(limiter().take("c1", NOW)).resolves.toBe("allowed");
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      ExpressionAttributeValues: { ":one": 1, ":windowFloor": NOW - 10_000, ":max": 20 },
    });
  });

  it("opens a new window when none is open", async () => {
    ddb.on(UpdateCommand, countUpdate).rejects(conditionFailed());
    ddb.on(UpdateCommand, openUpdate).resolves({});
    await expect(limiter().take("c1", NOW)).resolves.toBe("allowed");
  });

  it("limits when the window is open and full", async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({ Item: { connectionId: "c1", rateWindowStart: NOW - 5_000, rateCount: 20 } });
    await expect(limiter().take("c1", NOW)).resolves.toBe("limited");
  });

  it("tries again when another frame moved the window between the two conditions", async () => {
    ddb.on(UpdateCommand, countUpdate).rejectsOnce(conditionFailed()).resolves({});
    ddb.on(UpdateCommand, openUpdate).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({ Item: { connectionId: "c1", rateWindowStart: NOW, rateCount: 3 } });
    await expect(limiter().take("c1", NOW)).resolves.toBe("allowed");
  });

  it("answers unknown for a connection that is not stored", async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed());
    ddb.on(GetCommand).resolves({});
    await expect(limiter().take("c1", NOW)).resolves.toBe("unknown");
  });

  it("passes other DynamoDB errors on", async () => {
    ddb.on(UpdateCommand).rejects(new Error("throttled"));
    await expect(limiter().take("c1", NOW)).rejects.toThrow("throttled");
  });
});
