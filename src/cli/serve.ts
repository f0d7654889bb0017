import { cron } from "@elysiajs/cron";
import { Cron } from "croner";
import { createApp } from "../app.ts";
import { type CheckerOptions, createChecker } from "../checker/checker.ts";
import { systemClock } from "../clock.ts";
import type { Config } from "../config.ts";
import { migrate, openDatabase } from "../db/connection.ts";
import { acquireInstanceLock } from "../db/instance-lock.ts";
import { createMetrics } from "../http/metrics.ts";
import type { Logger } from "../logger.ts";
import { createEmailSender } from "../notifications/email-sender.ts";
import { createNotificationPlanner } from "../notifications/planner.ts";
import { createWhatsAppSender } from "../notifications/whatsapp-sender.ts";
import { newServiceStatus, recordTick } from "../ops/service-status.ts";
import { releaseHeldJobs } from "../outbox/outbox.queries.ts";
import { createOutboxWorker, startOutboxLoop } from "../outbox/worker.ts";
import { createSource } from "../uscis/source.ts";
import { Version } from "../version.ts";
import { emitCheckFailing } from "../webhooks/webhook-events.ts";
import { createWebhookSender } from "../webhooks/webhook-sender.ts";

/**
 * The tick budget follows from the schedule: a tick may use most of the time until the next
 * one at the USCIS rate, and leaves a margin so ticks do not run into each other.
 */
export function receiptsPerTick(pattern: string, ratePerSecond: number): number {
  const [first, second] = new Cron(pattern, { paused: true }).nextRuns(2);
  const seconds = first && second ? (second.getTime() - first.getTime()) / 1000 : 60;
  return Math.max(1, Math.floor(seconds * ratePerSecond * 0.8));
}

/** The checker as `serve` runs it: paced by the schedule, telling people, emitting events. */
export function createServiceChecker(
  config: Config,
  deps: Pick<CheckerOptions, "db" | "source" | "quota" | "clock" | "logger">,
) {
  return createChecker({
    ...deps,
    checkIntervalMinutes: config.checkIntervalMinutes,
    maxReceiptsPerTick: receiptsPerTick(config.checkerCron, config.uscisRatePerSecond),
    planNotifications: createNotificationPlanner(deps.logger),
    onCheckFailing: emitCheckFailing,
  });
}

export async function serve(config: Config, logger: Logger): Promise<void> {
  const clock = systemClock;
  const instance = acquireInstanceLock(config.databasePath);
  const database = openDatabase(config.databasePath);
  const applied = migrate(database);
  const { source, quota } = createSource(config, { db: database.db, clock, logger });
  const metrics = createMetrics();
  const status = newServiceStatus(clock.now());
  const checker = createServiceChecker(config, { db: database.db, source, quota, clock, logger });
  const released = releaseHeldJobs(database.db, clock.now());
  const outbox = startOutboxLoop(
    createOutboxWorker({
      db: database.db,
      clock,
      logger,
      email: createEmailSender(config, logger),
      whatsapp: createWhatsAppSender(config, logger),
      webhooks: createWebhookSender({
        db: database.db,
        clock,
        allowPrivate: config.webhookAllowPrivate,
        allowHttp: config.webhookAllowHttp,
      }),
    }),
    logger,
  );

  const app = createApp({
    config,
    database,
    clock,
    logger,
    source,
    quota,
    metrics,
    status,
  }).use(
    cron({
      name: "checker",
      pattern: config.checkerCron,
      protect: true,
      catch: (error: unknown) => logger.error({ err: error }, "checker tick failed"),
      run: async () => {
        const summary = await checker.tick();
        if (summary.skipped) return;
        recordTick(status, { at: clock.now(), ...summary });
        metrics.checkerTicks.inc();
        metrics.statusUpdates.inc(summary.changed);
        metrics.receiptsChecked.inc({ outcome: "not_found" }, summary.notFound);
        metrics.receiptsChecked.inc({ outcome: "failed" }, summary.failed);
        metrics.receiptsChecked.inc(
          { outcome: "found" },
          Math.max(0, summary.checked - summary.notFound - summary.failed),
        );
      },
    }),
  );

  app.listen({
    port: config.port,
    hostname: config.host,
    // Our body reader stops at 64 KiB and answers the 413 envelope; a lower limit here would
    // make Bun refuse first with a bare 413. This is only the outer bound for a body never read.
    maxRequestBodySize: 16 * 1024 * 1024,
    // Elysia asks Bun for SO_REUSEPORT, which lets a second instance bind the same port and
    // quietly take half the traffic; a port in use must stop start-up instead.
    reusePort: false,
  });
  logger.info(
    {
      version: Version,
      url: `http://${config.host}:${app.server?.port}`,
      public_base_url: config.publicBaseUrl,
      database: config.databasePath,
      migrations_applied: applied,
      outbox_jobs_released: released,
      uscis_mode: config.uscisMode,
      checker_cron: config.checkerCron,
      // Elysia and Bun.serve read NODE_ENV; the build pins it, so a binary always says false.
      development: app.server?.development ?? null,
    },
    "ImmigraFlow is listening",
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    app.store.cron.checker.stop();
    const deadline = Date.now() + config.shutdownTimeoutSeconds * 1000;
    // Refuse new connections, let the requests in flight finish.
    const stopped = app.server?.stop(false);
    while (checker.running && Date.now() < deadline) await Bun.sleep(50);
    // A delivery cut short here is not lost: its lease runs out and the next start retries it.
    await Promise.race([
      Promise.all([stopped, outbox.stop()]),
      Bun.sleep(Math.max(0, deadline - Date.now())),
    ]);
    quota.release();
    database.close();
    instance.release();
    logger.info({ signal }, "stopped");
    logger.flush();
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}
