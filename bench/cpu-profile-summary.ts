import { readFileSync } from "node:fs";

/** The parts of a V8 `.cpuprofile` (written by `node --cpu-prof`) this summary reads. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time by function (and by package), from a V8 CPU profile: where a process's CPU went. */
export function summarize(file: string, top = 25): { frames: string[]; packages: string[] } {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const self = new Map<string, number>();
  const packages = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, index) => {
    const frame = byId.get(id);
    const dt = profile.timeDeltas[index] ?? 0;
    total += dt;
    if (!frame) return;
    const where = frame.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/main\//, "");
    const key = `${frame.functionName || "(anonymous)"} ${where}:${frame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    const pkg =
      /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(frame.url)?.[1] ??
      (frame.url.startsWith("node:") ? "node (internal)" : frame.url ? "ours" : frame.functionName);
    packages.set(pkg, (packages.get(pkg) ?? 0) + dt);
  });
  const share = (entries: Map<string, number>) =>
    [...entries]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, dt]) => `${((dt / total) * 100).toFixed(1).padStart(5)}%  ${key}`);
  return { frames: share(self), packages: share(packages) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { frames, packages } = summarize(process.argv[2] ?? "", Number(process.argv[3] ?? 25));
  console.log(`self time by package\n${packages.join("\n")}\n\nself time by function\n${frames.join("\n")}`);
}
