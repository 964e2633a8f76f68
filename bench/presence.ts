import { pathToFileURL } from "node:url";
import { type JoinCrowdResult, measureJoinCrowd } from "./presence-join.ts";
import { measurePresencePosts, type PresencePostsResult } from "./presence-posts.ts";

/** Presence by user at scale: the posts a join and a leave cause, and a crowd of clients joining one channel. */
export interface PresenceResult extends PresencePostsResult {
  /** 1,000 clients joining one channel of the local stack, first handshake to idle. */
  join1000Seconds: number;
  join: JoinCrowdResult;
}

/**
 * Both presence benchmarks: posts per join and leave at 50 users (under the limit), the limit itself, one past it,
 * 1,000 and 10,000; then `clients` clients joining one channel of the local stack.
 */
export async function measurePresence(quick = false): Promise<PresenceResult> {
  const posts = await measurePresencePosts(quick ? [50, 101, 1_000] : [50, 100, 101, 1_000, 10_000]);
  const join = await measureJoinCrowd(quick ? 100 : 1_000);
  return { ...posts, join1000Seconds: join.ours.seconds, join };
}

// `npx tsx bench/presence.ts [--quick]` runs this benchmark alone and prints its results.
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const result = await measurePresence(process.argv.includes("--quick"));
  console.log(JSON.stringify(result, null, 2));
}
