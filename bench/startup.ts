/**
 * Start-up: the compiled executable, built from the tree as it is now into a scratch folder
 * (dist/ is left alone), started over a database of 100,000 cases. Measured from spawn to the
 * first 200 from GET /health, which itself counts the due receipts and the outbox backlog.
 * Five starts; the figure is the slowest.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { buildExecutable } from "../scripts/build.ts";
import { scratchDir } from "./lib/machine.ts";
import { type BenchRow, benchMain, formatInt, formatMs, progress } from "./lib/result.ts";
import { openBenchDatabase, seedPartner, seedUsers, seedWatchedReceipts } from "./lib/seed.ts";
import { childEnv } from "./lib/servers.ts";

const Name = "startup";
const Cases = 100_000;
const Starts = 5;
const TargetMs = 500;

function seedCases(databasePath: string): void {
  const handle = openBenchDatabase(databasePath);
  const partner = seedPartner(handle);
  const userIds = seedUsers(handle.sqlite, { clientId: partner.clientId, count: Cases / 4 });
  const now = Date.now();
  // Checked an hour ago, next due in five: a service that keeps up with its schedule.
  seedWatchedReceipts(handle.sqlite, {
    userIds,
    count: Cases,
    nextCheckAt: now + 5 * 60 * 60 * 1000,
    lastCheckedAt: now - 60 * 60 * 1000,
  });
  handle.close();
}

/**
 * CPU time a process has used so far, from /proc (Linux; 10 ms ticks): unlike the wall clock,
 * it does not move with whatever else the machine is doing. Null where /proc is not there.
 */
function cpuMsOf(pid: number): number | null {
  try {
    // The fields after the command name, which is in parentheses and may contain spaces.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

async function timeToHealth(binary: string, databasePath: string, logFile: string) {
  const port = freePort();
  const started = performance.now();
  const child = Bun.spawn([binary, "serve"], {
    env: childEnv({
      DATABASE_PATH: databasePath,
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_FORMAT: "json",
      CHECKER_CRON: "0 0 1 1 *",
    }),
    stdout: Bun.file(logFile),
    stderr: "inherit",
  });
  try {
    for (;;) {
      if (performance.now() - started > 10_000) throw new Error("no /health answer in 10 s");
      const response = await fetch(`http://127.0.0.1:${port}/health`).catch(() => null);
      if (response?.status === 200) {
        await response.arrayBuffer();
        return { ms: performance.now() - started, cpuMs: cpuMsOf(child.pid) };
      }
      await Bun.sleep(2);
    }
  } finally {
    child.kill("SIGTERM");
    await child.exited;
  }
}

export async function runStartup(): Promise<BenchRow[]> {
  const dir = scratchDir(Name);
  const databasePath = join(dir, "startup.db");
  progress(Name, "building the executable");
  const { outfile } = await buildExecutable(join(dir, "immigraflow"));
  progress(Name, `seeding ${formatInt(Cases)} cases`);
  seedCases(databasePath);

  const times: number[] = [];
  const cpu: number[] = [];
  for (let start = 0; start < Starts; start += 1) {
    const run = await timeToHealth(outfile, databasePath, join(dir, `serve-${start}.log`));
    times.push(run.ms);
    if (run.cpuMs !== null) cpu.push(run.cpuMs);
  }
  const cpuMedian = cpu.length ? [...cpu].sort((a, b) => a - b)[Math.floor(cpu.length / 2)]! : null;
  const slowest = Math.max(...times);
  const sorted = [...times].sort((a, b) => a - b);
  progress(Name, `starts: ${times.map((time) => formatMs(time)).join(", ")}`);
  if (cpuMedian !== null) progress(Name, `CPU to /health: ${cpu.join(", ")} ms`);
  return [
    {
      benchmark: "Start-up: binary, 100k cases, to /health",
      figure: `${formatMs(slowest)} (median ${formatMs(sorted[Math.floor(Starts / 2)]!)})`,
      reference: `< ${TargetMs} ms, slowest of ${Starts}`,
      pass: slowest < TargetMs,
      values: {
        slowest_ms: slowest,
        median_ms: sorted[Math.floor(Starts / 2)]!,
        ...(cpuMedian !== null && { median_cpu_ms: cpuMedian }),
      },
    },
  ];
}

if (import.meta.main) await benchMain(Name, runStartup);
