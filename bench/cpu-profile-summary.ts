import { readFileSync } from "node:fs";

/** The parts of a V8 `.cpuprofile` (written by `node --cpu-prof` or the inspector) this summary reads. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: a package, one of our files, Node itself, or V8's own pseudo-frames. */
function owner(url: string, functionName: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  if (url.startsWith("node:")) return "node (internal)";
  if (url) return url.replace(/^file:\/\/.*?\/(bench|lambda|local|test)\//, "$1/");
  return functionName || "(native)";
}

/**
 * Where a process's CPU went, from a V8 CPU profile, as shares of the busy (not idle) time: self time by function and
 * by owner (package or file), and inclusive time by owner (a sample counts once for every owner on its stack, so
 * "local/management-api.ts" includes the Node HTTP code it called).
 */
export function summarize(file: string, top = 25): { frames: string[]; owners: string[]; inclusive: string[] } {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<string, number>();
  const owners = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, dt: number) => map.set(key, (map.get(key) ?? 0) + dt);
  let busy = 0;
  profile.samples.forEach((id, index) => {
    const frame = byId.get(id)?.callFrame;
    const dt = profile.timeDeltas[index] ?? 0;
    if (!frame || frame.functionName === "(idle)") return;
    busy += dt;
    const where = frame.url
      .replace(/^.*node_modules\//, "")
      .replace(/^file:\/\/.*?\/(bench|lambda|local|test)\//, "$1/");
    add(self, `${frame.functionName || "(anonymous)"} ${where}:${frame.lineNumber + 1}`, dt);
    add(owners, owner(frame.url, frame.functionName), dt);
    const onStack = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at);
      if (node) onStack.add(owner(node.callFrame.url, node.callFrame.functionName));
    }
    for (const key of onStack) add(inclusive, key, dt);
  });
  const share = (entries: Map<string, number>) =>
    [...entries]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, dt]) => `${((dt / busy) * 100).toFixed(1).padStart(5)}%  ${key}`);
  return { frames: share(self), owners: share(owners), inclusive: share(inclusive) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { frames, owners, inclusive } = summarize(process.argv[2] ?? "", Number(process.argv[3] ?? 25));
  console.log(
    `share of busy time\n\ninclusive, by owner\n${inclusive.join("\n")}\n\nself, by owner\n${owners.join("\n")}\n\n` +
      `self, by function\n${frames.join("\n")}`,
  );
}
