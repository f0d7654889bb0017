/**
 * The service as `serve` wires it (src/cli/serve.ts: createApp, metrics, a real listening
 * server, JSON logs on stdout), except that the checker is not on a cron schedule: the
 * benchmark starts it by writing `check N S` on stdin, and it then runs ticks of up to N
 * receipts back to back until nothing is due (or S seconds passed), as if the USCIS rate
 * limit were lifted.
 *
 * Settings come from the environment through loadConfig, as for the real service. Port 0
 * picks a free port; `READY {"port":...}` and `CHECKED {...}` go to stderr for the parent.
 */
import { createApp } from "../../src/app.ts";
import { createChecker, type TickSummary } from "../../src/checker/checker.ts";
import { systemClock } from "../../src/clock.ts";
import { loadConfig } from "../../src/config.ts";
import { migrate, openDatabase } from "../../src/db/connection.ts";
import { MaxBodyBytes } from "../../src/http/body.ts";
import { createMetrics } from "../../src/http/metrics.ts";
import { createLogger } from "../../src/logger.ts";
import { createNotificationPlanner } from "../../src/notifications/planner.ts";
import { newServiceStatus } from "../../src/ops/service-status.ts";
import { createSource } from "../../src/uscis/source.ts";
import { Version } from "../../src/version.ts";
import { emitCheckFailing } from "../../src/webhooks/webhook-events.ts";

const config = loadConfig(Bun.env, false);
const logger = createLogger({ level: config.logLevel, format: "json" });
const clock = systemClock;
const database = openDatabase(config.databasePath);
migrate(database);
const { source, quota } = createSource(config, { db: database.db, clock, logger });
const metrics = createMetrics();
const status = newServiceStatus(clock.now());

const app = createApp({ config, database, clock, logger, source, quota, metrics, status });
app.listen({ port: config.port, hostname: config.host, maxRequestBodySize: MaxBodyBytes * 4 });
logger.info({ version: Version, port: app.server?.port }, "bench app server listening");
process.stderr.write(`READY ${JSON.stringify({ port: app.server?.port })}\n`);

async function checkUntilDone(perTick: number, maxSeconds: number): Promise<void> {
  const checker = createChecker({
    db: database.db,
    source,
    clock,
    logger,
    quota,
    checkIntervalMinutes: config.checkIntervalMinutes,
    maxReceiptsPerTick: perTick,
    planNotifications: createNotificationPlanner(logger),
    onCheckFailing: emitCheckFailing,
  });
  const started = performance.now();
  const total: Pick<TickSummary, "checked" | "changed" | "failed"> & { ticks: number } = {
    checked: 0,
    changed: 0,
    failed: 0,
    ticks: 0,
  };
  for (;;) {
    const summary = await checker.tick();
    total.ticks += 1;
    total.checked += summary.checked;
    total.changed += summary.changed;
    total.failed += summary.failed;
    if (summary.checked === 0 || summary.rateLimited) break;
    if (performance.now() - started > maxSeconds * 1000) break;
  }
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(`CHECKED ${JSON.stringify({ ...total, seconds })}\n`);
}

const commands = (async () => {
  for await (const line of console) {
    const [command, perTick, maxSeconds] = line.trim().split(/\s+/);
    if (command === "check")
      await checkUntilDone(Number(perTick ?? 5_000), Number(maxSeconds ?? 60));
  }
})();
commands.catch((error) => logger.error({ err: error }, "bench command failed"));

process.on("SIGTERM", () => {
  app.server?.stop(true);
  database.close();
  logger.flush();
  process.exit(0);
});
