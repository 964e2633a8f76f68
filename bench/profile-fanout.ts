import { startHelper } from "./child.ts";
import { type FanoutPath, measureFanout } from "./fanout-paths.ts";

/**
 * One fan-out path alone, for a CPU profile of the measuring process (the management API runs in its own process):
 * `node --cpu-prof --cpu-prof-dir=/tmp/chat-bench-profiles --import tsx bench/profile-fanout.ts signed-http 10000 256`,
 * then `npx tsx bench/cpu-profile-summary.ts /tmp/chat-bench-profiles/<file>.cpuprofile`.
 */
const [path = "signed-http", recipients = "10000", concurrency = "256", latencyMs = "20"] = process.argv.slice(2);
const server = await startHelper<{ port: number }>("bench/fake-management-api.ts", [latencyMs]);
try {
  const sample = await measureFanout(
    path as FanoutPath,
    `http://127.0.0.1:${server.ready.port}/bench`,
    Number(recipients),
    Number(concurrency),
  );
  console.log(JSON.stringify(sample));
} finally {
  await server.stop();
}
