import { cron } from "@elysiajs/cron";
import { createApp } from "../app.ts";
import type { TickSummary } from "../checker/checker.ts";
import { createCheckerHost, skippedTick } from "../checker/checker-host.ts";
import { createServiceChecker } from "../checker/service-checker.ts";
import { type Clock, systemClock } from "../clock.ts";
import { type Config, configWarnings } from "../config.ts";
import { type DatabaseHandle, migrate, openDatabase } from "../db/connection.ts";
import { acquireInstanceLock } from "../db/instance-lock.ts";
import { createMetrics } from "../http/metrics.ts";
import type { Logger } from "../logger.ts";
import { createEmailSender } from "../notifications/email-sender.ts";
import { createWhatsAppSender } from "../notifications/whatsapp-sender.ts";
import { rolledBackWrite } from "../ops/database-probe.ts";
import { newServiceStatus, recordTick, type ServiceStatus } from "../ops/service-status.ts";
import { releaseHeldJobs } from "../outbox/outbox.queries.ts";
import { createOutboxWorker, startOutboxLoop } from "../outbox/worker.ts";
import { createSource } from "../uscis/source.ts";
import type { CaseStatusSource } from "../uscis/types.ts";
import { Version } from "../version.ts";
import { createWebhookSender } from "../webhooks/webhook-sender.ts";
import { databaseFailure, listenFailure } from "./start-up.ts";

export { createServiceChecker, receiptsPerTick } from "../checker/service-checker.ts";

/** The checker as serve drives it, wherever it runs. */
export interface ServiceCheckerHandle {
  tick(maxReceipts?: number): Promise<TickSummary>;
  readonly running: boolean;
  /** The process's one USCIS source, for the live look-ups. */
  source: CaseStatusSource;
  quota: { remaining(): number; used(): number };
  /** A clean stop: gives back the unspent quota block. */
  stop(waitMs: number): Promise<void>;
}

/**
 * How much nicer than the HTTP thread the checker thread runs (thread-priority.ts). Measured
 * with bench/under-load.ts at 10, it did not lower the case read's p99 beyond the noise of a
 * shared machine and cost a quarter of the checker's throughput, so it stays off; the bench's
 * BENCH_CHECKER_NICENESS tries other values.
 */
export const CheckerNiceness = 0;

export interface ServiceCheckerChoices {
  /** Defaults to a thread for a file database. */
  thread?: boolean;
  /** Defaults to CheckerNiceness. */
  niceness?: number;
}

/**
 * With a file database the checker runs in a thread of its own (checker-host.ts), so its
 * transactions never hold the event loop that answers HTTP. A `:memory:` database cannot be
 * opened from a second connection, so there it stays on the main thread, as tests build it.
 */
export async function startServiceChecker(
  config: Config,
  deps: ServiceCheckerDeps,
  choices: ServiceCheckerChoices = {},
): Promise<ServiceCheckerHandle> {
  const { checker, start } = launchServiceChecker(config, deps, choices);
  await start();
  return checker;
}

type ServiceCheckerDeps = {
  database: DatabaseHandle;
  clock: Clock;
  logger: Logger;
  status: ServiceStatus;
};

/**
 * The checker at once, its thread started later: loading the thread takes a few hundred
 * milliseconds of CPU, which `serve` lets pass after its port is open rather than before (or
 * beside it, on a machine with two cores). Until it is ready a tick is skipped and a live
 * look-up waits for it.
 */
export function launchServiceChecker(
  config: Config,
  deps: ServiceCheckerDeps,
  choices: ServiceCheckerChoices = {},
): { checker: ServiceCheckerHandle; start(): Promise<void> } {
  const { database, clock, logger } = deps;
  if (!(choices.thread ?? config.databasePath !== ":memory:")) {
    return { checker: inProcessChecker(config, deps), start: async () => {} };
  }
  const host = createCheckerHost({
    config,
    db: database.db,
    clock,
    logger,
    niceness: choices.niceness ?? CheckerNiceness,
  });
  deps.status.checkerThread = host.state;
  return { checker: host, start: () => host.start() };
}

function inProcessChecker(
  config: Config,
  { database, clock, logger }: { database: DatabaseHandle; clock: Clock; logger: Logger },
): ServiceCheckerHandle {
  const { source, quota } = createSource(config, { db: database.db, clock, logger });
  const deps = { db: database.db, source, quota, clock, logger };
  const scheduled = createServiceChecker(config, deps);
  // One checker per budget; ticks never overlap, whichever runs them.
  const checkers = new Map<number, ReturnType<typeof createServiceChecker>>();
  let running = false;
  return {
    async tick(maxReceipts) {
      let checker = scheduled;
      if (maxReceipts !== undefined) {
        checker = checkers.get(maxReceipts) ?? createServiceChecker(config, deps, maxReceipts);
        checkers.set(maxReceipts, checker);
      }
      if (running) return skippedTick();
      running = true;
      try {
        return await checker.tick();
      } finally {
        running = false;
      }
    },
    get running() {
      return running || scheduled.running;
    },
    source,
    quota,
    stop: async () => quota.release(),
  };
}

/**
 * The instance lock, the database and its migrations, and proof that it takes a write, all
 * before anything starts, so a file or folder that cannot be written stops start-up naming it.
 */
function openForServing(databasePath: string) {
  let instance: ReturnType<typeof acquireInstanceLock> | undefined;
  let database: DatabaseHandle | undefined;
  try {
    instance = acquireInstanceLock(databasePath);
    database = openDatabase(databasePath);
    const applied = migrate(database);
    // A read-only file opens and reads without complaint: find out before anything starts.
    rolledBackWrite(database.sqlite);
    return { instance, database, applied };
  } catch (error) {
    database?.close();
    instance?.release();
    throw databaseFailure(error, databasePath);
  }
}

export async function serve(config: Config, logger: Logger): Promise<void> {
  const clock = systemClock;
  for (const warning of configWarnings(config)) logger.warn(warning);
  const { instance, database, applied } = openForServing(config.databasePath);
  const metrics = createMetrics();
  const status = newServiceStatus(clock.now());
  const launched = launchServiceChecker(config, { database, clock, logger, status });
  const { checker } = launched;
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
      metrics,
    }),
    logger,
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

  try {
    app.listen({
      port: config.port,
      hostname: config.host,
      // Our body reader stops at 64 KiB and answers the 413 envelope; a lower limit here would
      // make Bun refuse first with a bare 413. The outer bound for a body never read.
      maxRequestBodySize: 16 * 1024 * 1024,
      // Elysia asks Bun for SO_REUSEPORT, which lets a second instance bind the same port and
      // quietly take half the traffic; a port in use must stop start-up instead.
      reusePort: false,
    });
  } catch (error) {
    throw listenFailure(error, config.host, config.port);
  }
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
      Promise.all([stopped, outbox.stop(deadline)]),
      Bun.sleep(Math.max(0, deadline - Date.now())),
    ]);
    // The thread gets a moment of its own past the deadline: it gives back the unspent quota
    // block and closes its connection, a few milliseconds unless it is stuck.
    await checker.stop(500);
    database.close();
    instance.release();
    logger.info({ signal }, "stopped");
    logger.flush();
    process.exit(0);
  };
  // Before the thread is ready: a stop asked for while it loads is a clean stop too.
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  try {
    await launched.start();
  } catch (error) {
    // A stop asked for meanwhile has this in hand.
    if (stopping) return;
    // A service that never had a checker stops rather than serve without one.
    app.store.cron.checker.stop();
    app.server?.stop(true);
    await outbox.stop(Date.now());
    throw error;
  }
}
