import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir, totalmem } from "node:os";
import { join } from "node:path";

/** What the figures were measured on; they mean little without it. */
export function describeMachine(): string {
  const cpuinfo = safeRead("/proc/cpuinfo");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown CPU";
  const ram = (totalmem() / 1024 ** 3).toFixed(1);
  return `${availableParallelism()} cores (nproc), ${model}, ${ram} GiB RAM, Bun ${Bun.version}`;
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/**
 * Peak resident set size of this process. Linux keeps the high-water mark in VmHWM and lets a
 * process reset it (clear_refs 5), so a benchmark can leave its seeding out of the peak.
 * Timers cannot sample RSS while a synchronous loop holds the event loop; VmHWM misses nothing.
 */
export function resetPeakRss(): boolean {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

export function peakRssBytes(pid: number | "self" = "self"): number {
  const status = safeRead(`/proc/${pid}/status`);
  const kib = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  return kib ? Number(kib) * 1024 : process.memoryUsage().rss;
}

/**
 * CPU time (user + system) a process has used so far, in milliseconds, from /proc/<pid>/stat;
 * null where there is no /proc. Per request, it is the figure a shared machine leaves least
 * noisy: other processes slow a server down but do not make its requests cost more CPU.
 */
export function processCpuMs(pid: number): number | null {
  const stat = safeRead(`/proc/${pid}/stat`);
  // The command name may hold spaces; the fields after it are fixed.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) && stat !== "" ? (ticks * 1000) / ClockTicksPerSecond : null;
}

/** USER_HZ, which Linux has kept at 100 on every architecture it runs on. */
const ClockTicksPerSecond = 100;

/** A scratch folder on the same disk a deployment would use, removed when the process ends. */
export function scratchDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `immigraflow-bench-${name}-`));
  if (!process.env.BENCH_KEEP)
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
