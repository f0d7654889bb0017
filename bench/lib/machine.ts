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

/** A scratch folder on the same disk a deployment would use, removed when the process ends. */
export function scratchDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `immigraflow-bench-${name}-`));
  if (!process.env.BENCH_KEEP)
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
