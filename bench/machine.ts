import { readdirSync, readFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";

/** The machine a run was made on, and how busy it was. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGb: number;
  node: string;
  date: string;
  /** 1-minute load average when the run started and ended (2 would mean both cores busy on a 2-core machine). */
  loadAtStart: number;
  loadAtEnd?: number;
  /** Other processes that were running benchmarks or soak tests (from /proc, read only). */
  otherLoad: string[];
}

/** Command lines of other processes that look like load tests (soak, bench), read from /proc on Linux. */
function otherLoadProcesses(): string[] {
  try {
    return readdirSync("/proc")
      .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid && Number(entry) !== process.ppid)
      .map((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
        } catch {
          return "";
        }
      })
      .filter((line) => /soak|vitest|playwright|chromium/.test(line) && !line.includes("bench/"))
      .map((line) => line.slice(0, 120));
  } catch {
    return [];
  }
}

/** What this machine is, now. */
export function machineInfo(): MachineInfo {
  return {
    cpuModel: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGb: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    date: new Date().toISOString(),
    loadAtStart: loadavg()[0] ?? 0,
    otherLoad: otherLoadProcesses(),
  };
}

/** Adds the load at the end of the run. */
export const finishMachineInfo = (info: MachineInfo): MachineInfo => ({
  ...info,
  loadAtEnd: loadavg()[0] ?? 0,
  otherLoad: [...new Set([...info.otherLoad, ...otherLoadProcesses()])],
});
