/**
 * The service as `serve` wires it (src/cli/serve.ts: createApp, metrics, the checker started
 * by startServiceChecker, so in its own thread for this file database, a real listening
 * server, JSON logs on stdout), except that the checker is not on a cron schedule: the
 * benchmark starts it by writing `check N S` on stdin, and it then runs ticks of up to N
 * receipts back to back until nothing is due (or S seconds passed), as if the USCIS rate
 * limit were lifted.
 *
 * Settings come from the environment through loadConfig, as for the real service. Port 0
 * picks a free port; `READY {"port":...}` and `CHECKED {...}` go to stderr for the parent.
 * For comparisons only: BENCH_CHECKER=in-process keeps the checker on the main thread, and
 * BENCH_CHECKER_NICENESS replaces serve's niceness for the checker thread.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createApp } from "../../src/app.ts";
import type { TickSummary } from "../../src/checker/checker.ts";
import { startServiceChecker } from "../../src/cli/serve.ts";
import { systemClock } from "../../src/clock.ts";
import { loadConfig } from "../../src/config.ts";
import { migrate, openDatabase } from "../../src/db/connection.ts";
import { MaxBodyBytes } from "../../src/http/body.ts";
import { createMetrics } from "../../src/http/metrics.ts";
import { createLogger } from "../../src/logger.ts";
import { newServiceStatus } from "../../src/ops/service-status.ts";
import { Version } from "../../src/version.ts";

const config = loadConfig(Bun.env, false);
const logger = createLogger({ level: config.logLevel, format: "json" });
const clock = systemClock;
const database = openDatabase(config.databasePath);
migrate(database);
const metrics = createMetrics();
const status = newServiceStatus(clock.now());
const niceness = Bun.env.BENCH_CHECKER_NICENESS;
const checker = await startServiceChecker(
  config,
  { database, clock, logger, status },
  {
    ...(Bun.env.BENCH_CHECKER === "in-process" && { thread: false }),
    ...(niceness !== undefined && { niceness: Number(niceness) }),
  },
);

const app = createApp({
  config,
  database,
  clock,
  logger,
  source: checker.source,
  quota: checker.quota,
  metrics,
  status,
});
app.listen({ port: config.port, hostname: config.host, maxRequestBodySize: MaxBodyBytes * 4 });
logger.info({ version: Version, port: app.server?.port }, "bench app server listening");
process.stderr.write(`READY ${JSON.stringify({ port: app.server?.port })}\n`);

/**
 * CPU seconds per thread name, from /proc (Linux only; empty elsewhere): the main thread is
 * the one named after the executable, the checker thread Bun names "Worker".
 */
function threadCpuSeconds(): Record<string, number> {
  const byName: Record<string, number> = {};
  try {
    for (const task of readdirSync("/proc/self/task")) {
      const stat = readFileSync(`/proc/self/task/${task}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime and stime, fields 14 and 15 of the line, in clock ticks of 1/100 s.
      const ticks = Number(fields[11]) + Number(fields[12]);
      byName[name] = (byName[name] ?? 0) + ticks / 100;
    }
  } catch {
    // Not Linux: the process-wide figure is all there is.
  }
  return byName;
}

function since(before: Record<string, number>): Record<string, number> {
  const now = threadCpuSeconds();
  return Object.fromEntries(
    Object.entries(now).map(([name, seconds]) => [
      name,
      Math.round((seconds - (before[name] ?? 0)) * 100) / 100,
    ]),
  );
}

async function checkUntilDone(perTick: number, maxSeconds: number): Promise<void> {
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const threadsBefore = threadCpuSeconds();
  const total: Pick<TickSummary, "checked" | "changed" | "failed"> & { ticks: number } = {
    checked: 0,
    changed: 0,
    failed: 0,
    ticks: 0,
  };
  for (;;) {
    const summary = await checker.tick(perTick);
    total.ticks += 1;
    total.checked += summary.checked;
    total.changed += summary.changed;
    total.failed += summary.failed;
    if (summary.checked === 0 || summary.rateLimited) break;
    if (performance.now() - started > maxSeconds * 1000) break;
  }
  const seconds = (performance.now() - started) / 1000;
  // The whole process: both threads, and the HTTP requests answered meanwhile.
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const threads = since(threadsBefore);
  process.stderr.write(`CHECKED ${JSON.stringify({ ...total, seconds, cpuSeconds, threads })}\n`);
}

const commands = (async () => {
  for await (const line of console) {
    const [command, perTick, maxSeconds] = line.trim().split(/\s+/);
    if (command === "check")
      await checkUntilDone(Number(perTick ?? 5_000), Number(maxSeconds ?? 60));
  }
})();
commands.catch((error) => logger.error({ err: error }, "bench command failed"));

process.on("SIGTERM", async () => {
  app.server?.stop(true);
  await checker.stop(2_000);
  database.close();
  logger.flush();
  process.exit(0);
});
