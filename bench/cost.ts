import { limits } from "../lambda/core/limits.ts";
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
  /** `$default`'s memory (infra/chat-functions.ts: 256 MB unless the deployment sets `messageMemory`). */
  memoryMb: number;
  /** Lambda's memory at which a function has one full vCPU; below it, CPU is allotted in proportion (AWS: 1,769 MB). */
  fullCpuMemoryMb: number;
  /**
   * One DynamoDB call in Region. The message path makes two in sequence before it posts: the update of the sender's
   * rate counter, then the history put and the channel-index query at once.
   */
  dynamoCallMs: number;
  /**
   * CPU of one chat message in `$default` besides its posts, on one full core: the frame parsed, the SDK's three
   * DynamoDB calls made and answered, the core's fan-out bookkeeping. Replaced by the measured value (benchmark 9).
   */
  handlerCpuMs: number;
  /** API Gateway's answer to one post (the 20 ms the fan-out benchmark injects). */
  postRoundTripMs: number;
  /**
   * Wall time per delivery once a fan-out is throughput-bound: measured (1 / deliveries per second at N = 10,000).
   * That benchmark's poster is then CPU-bound on one full core, so this is also its CPU time per post.
   */
  msPerDelivery: number;
  /** Posts in flight per broadcast (`limits.broadcastConcurrency`). */
  concurrency: number;
  /** Size of one member's index entry (id, channel, username, connectedAt, expiresAt and key overhead). */
  indexItemBytes: number;
  /** Index entries per query page (`limits.membersPageSize`). */
  pageSize: number;
}

/** Default assumptions; `msPerDelivery` is replaced by the measured value. */
export const defaultAssumptions: CostAssumptions = {
  memoryMb: 256,
  fullCpuMemoryMb: 1769,
  dynamoCallMs: 6,
  handlerCpuMs: 2.5,
  postRoundTripMs: 20,
  msPerDelivery: 0.25,
  concurrency: limits.broadcastConcurrency,
  indexItemBytes: 100,
  pageSize: 1_000,
};

/**
 * Wall time of a fan-out of `members` posts inside `$default`. Posting is CPU: `msPerDelivery` per post was measured on one
 * full core, and a function below `fullCpuMemoryMb` gets that share of a core, so its posting CPU is
 * N × msPerDelivery × fullCpuMemoryMb / memoryMb; the last post's answer then takes one more round trip. The other
 * bound is latency: with `concurrency` posts in flight, every batch of them waits one round trip. The fan-out takes
 * the larger of the two.
 */
export function fanoutMs(members: number, assumptions: CostAssumptions = defaultAssumptions): number {
  if (members <= 0) return 0;
  const cpuShare = Math.min(1, assumptions.memoryMb / assumptions.fullCpuMemoryMb);
  const postingCpuMs = (members * assumptions.msPerDelivery) / cpuShare;
  const latencyBoundMs = Math.ceil(members / assumptions.concurrency) * assumptions.postRoundTripMs;
  return Math.max(postingCpuMs + assumptions.postRoundTripMs, latencyBoundMs);
}

/**
 * The cost of one chat message to a channel of `members`, counted operation by operation: API Gateway bills the
 * inbound frame and each delivery (a chat message reaches every member, the sender included); Lambda bills one
 * `$default` request and its duration (two DynamoDB calls in sequence — the rate update, then the put and the index
 * query at once —, the handler's own CPU at the share of a vCPU the memory buys, and the fan-out, {@link fanoutMs}, of
 * a post to every member but the sender, whose copy is the route response); DynamoDB bills the eventually consistent index query (half a
 * read unit per 4 KB of each page) and two writes of under 1 KB: the user's rate counter (PROTOCOL v2 counts per user
 * across connections and channels, which the history item, kept per channel, cannot) and the history item (a chat
 * line of a few hundred characters; a message near the 4,000-character limit takes up to 16 write units in UTF-8).
 */
export function channelCost(members: number, assumptions: CostAssumptions = defaultAssumptions): ChannelCost {
  const cpuShare = Math.min(1, assumptions.memoryMb / assumptions.fullCpuMemoryMb);
  const lambdaMs = Math.ceil(
    2 * assumptions.dynamoCallMs + assumptions.handlerCpuMs / cpuShare + fanoutMs(members - 1, assumptions),
  );
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
