/**
 * Checker: 100,000 due receipts, each watched by one case of a verified user with a phone,
 * checked by the real checker against the in-process simulator with the rate limit lifted
 * (one tick may take every due receipt; the daily quota is raised to match). Two scenarios:
 *
 * - all new: every receipt is new to its case, so each one is fetched, compared and written
 *   with its status update and its outbox jobs (an e-mail, a WhatsApp message, a webhook
 *   delivery). The worst case: a bulk import.
 * - steady: what a deployment sees every interval. The same 100,000 receipts were checked an
 *   hour earlier (simulated) by the real checker, so their stored observation and last status
 *   update are what it wrote; the clock then moves on an hour and the receipts are made due.
 *   In that hour the simulator's stories move some 2.6% of them (the figure printed is the
 *   share that wrote a status update); the rest answer exactly what was stored.
 *
 * Ticks take 5,000 receipts each (a tick's size follows the rate; this is the rate lifted) and
 * a run stops after 60 s even if receipts are left, so a slow checker cannot hold the bench.
 * Peak RSS is the process's high-water mark from the end of a scenario's seeding to the end of
 * its run; CPU is the process's user + system time over the run, per receipt checked.
 *
 * `bun bench/checker.ts new` or `... steady` runs one; BENCH_CHECKER_RECEIPTS=20000 runs a
 * smaller set (for profiling; the target is for 100,000).
 */
import { join } from "node:path";
import pino from "pino";
import { createChecker, type TickSummary } from "../src/checker/checker.ts";
import { type Clock, systemClock } from "../src/clock.ts";
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
  runCheckerOnce,
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
/** How long before the steady run its receipts were last checked. */
const SteadyGapMs = 60 * 60 * 1000;

/** 100,000 due receipts, one case each, dealt over 25,000 users of one partner. */
export function seedDueReceipts(
  databasePath: string,
  count = DueReceipts,
  first = 0,
  dueAt = Date.now() - 60 * 60 * 1000,
): void {
  const handle = openBenchDatabase(databasePath);
  const partner = seedPartner(handle);
  seedWebhook(handle.sqlite, partner.clientId);
  const userIds = seedUsers(handle.sqlite, {
    clientId: partner.clientId,
    count: Math.min(UsersCount, count),
  });
  seedWatchedReceipts(handle.sqlite, {
    userIds,
    count,
    first,
    nextCheckAt: dueAt,
    lastCheckedAt: null,
  });
  handle.close();
}

/**
 * The receipts of seedDueReceipts, each already checked once by the real checker at
 * `checkedAt`, then made due again at that same moment: their next check is all that moves.
 */
async function seedCheckedReceipts(databasePath: string, count: number, checkedAt: number) {
  seedDueReceipts(databasePath, count, 0, checkedAt);
  const handle = openBenchDatabase(databasePath);
  while ((await runCheckerOnce(handle, { now: checkedAt, maxReceipts: PerTick })) > 0) {
    progress(Name, `seeding: ${formatInt(countRows(handle.sqlite, UpdatesCount))} checked`);
  }
  const updates = countRows(handle.sqlite, UpdatesCount);
  if (updates !== count) throw new Error(`seeding checked ${updates} of ${count} receipts`);
  handle.sqlite.query("UPDATE receipts SET next_check_at = ?").run(checkedAt);
  handle.sqlite.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  handle.close();
}

const UpdatesCount = "SELECT count(*) AS n FROM status_updates";
const JobsCount = "SELECT count(*) AS n FROM outbox_jobs";

export function checkerEnv(databasePath: string): Record<string, string> {
  return {
    DATABASE_PATH: databasePath,
    USCIS_MODE: "simulator",
    USCIS_RATE_PER_SECOND: "1000",
    USCIS_DAILY_QUOTA: "100000000",
  };
}

interface RunResult {
  checked: number;
  changed: number;
  failed: number;
  seconds: number;
  cpuUsPerReceipt: number;
  peak: number;
  peakResetWorked: boolean;
  /** Rows the run added. */
  statusUpdates: number;
  jobs: number;
}

/** The real checker as `serve` wires it, ticking over what is due until done or 60 s. */
async function checkAll(dir: string, databasePath: string, clock: Clock): Promise<RunResult> {
  Bun.gc(true);
  const peakResetWorked = resetPeakRss();
  const config = loadConfig(checkerEnv(databasePath), false);
  const database = openDatabase(config.databasePath);
  const updatesBefore = countRows(database.sqlite, UpdatesCount);
  const jobsBefore = countRows(database.sqlite, JobsCount);
  const logger = createLogger({
    level: "info",
    format: "json",
    // As `serve` logs: synchronous writes, one JSON line per tick.
    destination: pino.destination({ dest: join(dir, "checker.log"), sync: true }),
  });
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

  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const total: Pick<TickSummary, "checked" | "changed" | "failed"> = {
    checked: 0,
    changed: 0,
    failed: 0,
  };
  while (performance.now() - started < TimeLimitMs) {
    const summary = await checker.tick();
    total.checked += summary.checked;
    total.changed += summary.changed;
    total.failed += summary.failed;
    if (summary.checked === 0) break;
  }
  const cpu = process.cpuUsage(cpuBefore);
  const seconds = (performance.now() - started) / 1000;
  const peak = peakRssBytes();
  const statusUpdates = countRows(database.sqlite, UpdatesCount) - updatesBefore;
  const jobs = countRows(database.sqlite, JobsCount) - jobsBefore;
  database.close();
  return {
    ...total,
    seconds,
    cpuUsPerReceipt: (cpu.user + cpu.system) / Math.max(1, total.checked),
    peak,
    peakResetWorked,
    statusUpdates,
    jobs,
  };
}

function rows(label: string, run: RunResult, count: number, extra: boolean): BenchRow[] {
  const rate = run.checked / run.seconds;
  const done =
    run.checked === count ? "" : `, ${formatInt(run.checked)} of ${formatInt(count)} in 60 s`;
  progress(
    Name,
    `${label}: ${formatInt(run.checked)} receipts in ${formatMs(run.seconds * 1000)}, ` +
      `${formatInt(run.cpuUsPerReceipt)} us CPU each: ${formatInt(run.statusUpdates)} status ` +
      `updates, ${formatInt(run.jobs)} outbox jobs, ${run.failed} failed`,
  );
  const changedShare = run.statusUpdates / Math.max(1, run.checked);
  const title = `Checker: ${formatInt(count / 1000)}k due receipts, ${label}`;
  return [
    {
      benchmark: `${title}, rate`,
      figure: `${formatInt(rate)} receipts/s, ${formatInt(run.cpuUsPerReceipt)} us CPU each${done}`,
      reference: ">= 5,000 receipts/s",
      pass: rate >= 5_000 && run.checked === count && run.failed === 0 && extra,
      values: {
        receipts: run.checked,
        seconds: run.seconds,
        cpu_us_per_receipt: run.cpuUsPerReceipt,
        status_updates: run.statusUpdates,
        changed_share: changedShare,
        jobs: run.jobs,
      },
    },
    {
      benchmark: `${title}, peak RSS`,
      figure: formatMb(run.peak) + (run.peakResetWorked ? "" : " (incl. seeding)") + done,
      reference: "< 300 MB",
      pass: run.peak < 300 * 1024 * 1024,
      values: { peak_rss_bytes: run.peak },
    },
  ];
}

async function allNew(count: number): Promise<BenchRow[]> {
  const dir = scratchDir(`${Name}-new`);
  const databasePath = join(dir, "checker.db");
  progress(Name, `all new: seeding ${formatInt(count)} due receipts`);
  seedDueReceipts(databasePath, count);
  progress(Name, "all new: checking");
  const run = await checkAll(dir, databasePath, systemClock);
  // Each update writes its e-mail, WhatsApp and webhook jobs, or the figure is not this one.
  const complete = run.statusUpdates === count && run.jobs === run.statusUpdates * 3;
  return rows("all new", run, count, complete);
}

async function steady(count: number): Promise<BenchRow[]> {
  const dir = scratchDir(`${Name}-steady`);
  const databasePath = join(dir, "checker.db");
  progress(Name, `steady: seeding ${formatInt(count)} receipts checked an hour ago`);
  await seedCheckedReceipts(databasePath, count, Date.now() - SteadyGapMs);
  progress(Name, "steady: checking");
  const run = await checkAll(dir, databasePath, systemClock);
  const share = (100 * run.statusUpdates) / Math.max(1, run.checked);
  // Far from the simulator's 2-3% an hour, the scenario would not be the one described.
  // Record updates tell only partners; status changes write all three jobs.
  const plausible = share > 1 && share < 6 && run.jobs >= run.statusUpdates;
  return rows(`steady (${share.toFixed(1)}% changed)`, run, count, plausible);
}

export async function runChecker(): Promise<BenchRow[]> {
  const count = Number(process.env.BENCH_CHECKER_RECEIPTS ?? DueReceipts);
  const asked = Bun.argv.slice(2);
  const out: BenchRow[] = [];
  if (asked.length === 0 || asked.includes("new")) out.push(...(await allNew(count)));
  if (asked.length === 0 || asked.includes("steady")) out.push(...(await steady(count)));
  return out;
}

if (import.meta.main) await benchMain(Name, runChecker);
