/**
 * Checker: 100,000 due receipts, each watched by one case of a verified user with a phone,
 * checked by the real checker against the in-process simulator with the rate limit lifted
 * (one tick may take every due receipt; the daily quota is raised to match). Every receipt is
 * new to its case, so each one is fetched, compared and written with its status update and
 * its outbox jobs: an e-mail, a WhatsApp message and a webhook delivery.
 *
 * Ticks take 5,000 receipts each (a tick's size follows the rate; this is the rate lifted) and
 * the run stops after 60 s even if receipts are left, so a slow checker cannot hold the bench.
 * Peak RSS is the process's high-water mark from the end of seeding to the end of the run.
 */
import { join } from "node:path";
import pino from "pino";
import { createChecker, type TickSummary } from "../src/checker/checker.ts";
import { systemClock } from "../src/clock.ts";
import { loadConfig } from "../src/config.ts";
import { openDatabase } from "../src/db/connection.ts";
import { createLogger } from "../src/logger.ts";
import { createNotificationPlanner } from "../src/notifications/planner.ts";
import { createSource } from "../src/uscis/source.ts";
import { emitCheckFailing } from "../src/webhooks/webhook-events.ts";
import { peakRssBytes, resetPeakRss, scratchDir } from "./lib/machine.ts";
import { type BenchRow, benchMain, formatInt, formatMb, formatMs, progress } from "./lib/result.ts";
import {
  countRows,
  openBenchDatabase,
  seedPartner,
  seedUsers,
  seedWatchedReceipts,
  seedWebhook,
} from "./lib/seed.ts";

const Name = "checker";
export const DueReceipts = 100_000;
const UsersCount = 25_000;
const PerTick = 5_000;
const TimeLimitMs = 60_000;

/** 100,000 due receipts, one case each, dealt over 25,000 users of one partner. */
export function seedDueReceipts(databasePath: string, count = DueReceipts, first = 0): void {
  const handle = openBenchDatabase(databasePath);
  const partner = seedPartner(handle);
  seedWebhook(handle.sqlite, partner.clientId);
  const userIds = seedUsers(handle.sqlite, { clientId: partner.clientId, count: UsersCount });
  seedWatchedReceipts(handle.sqlite, {
    userIds,
    count,
    first,
    nextCheckAt: Date.now() - 60 * 60 * 1000,
    lastCheckedAt: null,
  });
  handle.close();
}

export function checkerEnv(databasePath: string): Record<string, string> {
  return {
    DATABASE_PATH: databasePath,
    USCIS_MODE: "simulator",
    USCIS_RATE_PER_SECOND: "1000",
    USCIS_DAILY_QUOTA: "100000000",
  };
}

export async function runChecker(): Promise<BenchRow[]> {
  const dir = scratchDir(Name);
  const databasePath = join(dir, "checker.db");
  progress(Name, `seeding ${formatInt(DueReceipts)} due receipts`);
  seedDueReceipts(databasePath);

  Bun.gc(true);
  const peakResetWorked = resetPeakRss();
  const config = loadConfig(checkerEnv(databasePath), false);
  const database = openDatabase(config.databasePath);
  const logger = createLogger({
    level: "info",
    format: "json",
    // As `serve` logs: synchronous writes, one JSON line per tick.
    destination: pino.destination({ dest: join(dir, "checker.log"), sync: true }),
  });
  const clock = systemClock;
  const { source, quota } = createSource(config, { db: database.db, clock, logger });
  const checker = createChecker({
    db: database.db,
    source,
    clock,
    logger,
    quota,
    checkIntervalMinutes: config.checkIntervalMinutes,
    maxReceiptsPerTick: PerTick,
    planNotifications: createNotificationPlanner(logger),
    onCheckFailing: emitCheckFailing,
  });

  progress(Name, "checking");
  const started = performance.now();
  const total: Pick<TickSummary, "checked" | "changed" | "failed"> = {
    checked: 0,
    changed: 0,
    failed: 0,
  };
  while (total.checked < DueReceipts && performance.now() - started < TimeLimitMs) {
    const summary = await checker.tick();
    total.checked += summary.checked;
    total.changed += summary.changed;
    total.failed += summary.failed;
    if (summary.checked === 0) break;
  }
  const seconds = (performance.now() - started) / 1000;
  const peak = peakRssBytes();

  const statusUpdates = countRows(database.sqlite, "SELECT count(*) AS n FROM status_updates");
  const jobs = countRows(database.sqlite, "SELECT count(*) AS n FROM outbox_jobs");
  database.close();
  const rate = total.checked / seconds;
  const complete = total.checked === DueReceipts && statusUpdates === DueReceipts;
  const done = complete ? "" : `, ${formatInt(total.checked)} of 100k in 60 s`;
  progress(
    Name,
    `${formatInt(total.checked)} receipts in ${formatMs(seconds * 1000)}: ` +
      `${formatInt(statusUpdates)} status updates, ${formatInt(jobs)} outbox jobs, ` +
      `${total.failed} failed`,
  );

  return [
    {
      benchmark: "Checker: 100k due receipts, rate",
      figure: `${formatInt(rate)} receipts/s${done}`,
      reference: ">= 5,000 receipts/s",
      // Each update writes its e-mail, WhatsApp and webhook jobs, or the figure is not this one.
      pass: rate >= 5_000 && total.failed === 0 && jobs === statusUpdates * 3,
      values: { receipts: total.checked, seconds, status_updates: statusUpdates, jobs },
    },
    {
      benchmark: "Checker: 100k due receipts, peak RSS",
      figure: formatMb(peak) + (peakResetWorked ? "" : " (incl. seeding)") + done,
      reference: "< 300 MB",
      pass: peak < 300 * 1024 * 1024,
      values: { peak_rss_bytes: peak },
    },
  ];
}

if (import.meta.main) await benchMain(Name, runChecker);
