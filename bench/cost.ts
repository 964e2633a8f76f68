import { prices } from "./prices.ts";

/** What one chat message to a channel costs, per million deliveries, beside API Gateway's own floor. */
export interface ChannelCost {
  /** Lambda and DynamoDB (and API Gateway) per million deliveries. */
  usdPerMillionDeliveries: number;
  /** API Gateway alone: one message per delivery plus the inbound frame shared among the deliveries. */
  apiGatewayFloorUsd: number;
  /** What Lambda and DynamoDB add on top of the floor, as a share of it. */
  overheadShare: number;
  lambdaUsd: number;
  dynamoUsd: number;
  /** Billed duration of the `$default` invocation in the model. */
  lambdaMs: number;
  readUnits: number;
  writeUnits: number;
}

/** Assumptions of the model that no local measurement can give; each says where it comes from. */
export interface CostAssumptions {
  /** `$default`'s memory (infra/chat-functions.ts: 1024 MB). */
  memoryMb: number;
  /** One DynamoDB call in Region, for the rate-limit update, the history write and the index query (in sequence). */
  dynamoCallMs: number;
  /** API Gateway's answer to one post (the 20 ms the fan-out benchmark injects). */
  postRoundTripMs: number;
  /** Wall time per delivery once a fan-out is throughput-bound: measured (1 / deliveries per second at N = 10,000). */
  msPerDelivery: number;
  /** Size of one member's index entry (id, channel, username, connectedAt, expiresAt and key overhead). */
  indexItemBytes: number;
  /** Index entries per query page (`limits.membersPageSize`). */
  pageSize: number;
}

/** Default assumptions; `msPerDelivery` is replaced by the measured value. */
export const defaultAssumptions: CostAssumptions = {
  memoryMb: 1024,
  dynamoCallMs: 6,
  postRoundTripMs: 20,
  msPerDelivery: 0.25,
  indexItemBytes: 100,
  pageSize: 1_000,
};

/**
 * The cost of one chat message to a channel of `members`, counted operation by operation: API Gateway bills the
 * inbound frame and each delivery (a chat message reaches every member, the sender included); Lambda bills one
 * `$default` request and its duration (three DynamoDB calls in sequence, then the fan-out: one round trip when every
 * post fits in flight at once, else the measured time per delivery); DynamoDB bills the index query (eventually
 * consistent: half a read unit per 4 KB of each page) and two writes of under 1 KB (the rate-limit update, whose
 * attributes the channel index does not project, and the history item).
 */
export function channelCost(members: number, assumptions: CostAssumptions = defaultAssumptions): ChannelCost {
  const fanoutMs = Math.max(assumptions.postRoundTripMs, members * assumptions.msPerDelivery);
  const lambdaMs = Math.ceil(3 * assumptions.dynamoCallMs + fanoutMs);
  const lambdaUsd =
    prices.lambdaRequestUsd + (assumptions.memoryMb / 1024) * (lambdaMs / 1000) * prices.lambdaGbSecondUsd;
  let readUnits = 0;
  for (let left = members; left > 0; left -= assumptions.pageSize) {
    readUnits += 0.5 * Math.ceil((Math.min(left, assumptions.pageSize) * assumptions.indexItemBytes) / 4096);
  }
  const writeUnits = 2;
  const dynamoUsd = readUnits * prices.dynamoReadUnitUsd + writeUnits * prices.dynamoWriteUnitUsd;
  const apiGatewayUsd = (1 + members) * prices.apiGatewayMessageUsd;
  const perMillion = (usd: number) => (usd / members) * 1e6;
  return {
    usdPerMillionDeliveries: perMillion(apiGatewayUsd + lambdaUsd + dynamoUsd),
    apiGatewayFloorUsd: perMillion(apiGatewayUsd),
    overheadShare: (lambdaUsd + dynamoUsd) / apiGatewayUsd,
    lambdaUsd: perMillion(lambdaUsd),
    dynamoUsd: perMillion(dynamoUsd),
    lambdaMs,
    readUnits,
    writeUnits,
  };
}

/** The model for each channel size, keyed by size. */
export function costModel(
  sizes: readonly number[],
  assumptions: CostAssumptions,
): { bySize: Record<string, ChannelCost>; assumptions: CostAssumptions; prices: typeof prices } {
  const bySize: Record<string, ChannelCost> = {};
  for (const size of sizes) bySize[String(size)] = channelCost(size, assumptions);
  return { bySize, assumptions, prices };
}
