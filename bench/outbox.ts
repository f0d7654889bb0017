/**
 * Outbox: 50,000 jobs (25,000 status updates, each with its e-mail and its WhatsApp message)
 * delivered by the real worker through the real senders (the Resend SDK, the Twilio SDK) to
 * the local fakes, with the e-mail pacing lifted. Every job is claimed with a lease, sent, and
 * its outcome written to the job and to its status update's `*_notify_*` fields.
 *
 * The jobs are the real planner's: the checker writes one status update per language, and
 * the other 24,997 are copies of those with their own user, address and idempotency key.
 */
import type { Database } from "bun:sqlite";
import { join } from "node:path";
import pino from "pino";
import { systemClock } from "../src/clock.ts";
import { loadConfig } from "../src/config.ts";
import { openDatabase } from "../src/db/connection.ts";
import { createLogger } from "../src/logger.ts";
import { createResendSender } from "../src/notifications/email-sender.ts";
import { createWhatsAppSender } from "../src/notifications/whatsapp-sender.ts";
import { createOutboxWorker, startOutboxLoop } from "../src/outbox/worker.ts";
import { createWebhookSender } from "../src/webhooks/webhook-sender.ts";
import { scratchDir } from "./lib/machine.ts";
import { type BenchRow, benchMain, formatInt, formatMs, progress } from "./lib/result.ts";
import {
  countRows,
  openBenchDatabase,
  runCheckerOnce,
  seedPartner,
  seedUsers,
  seedWatchedReceipts,
} from "./lib/seed.ts";
import { startServer } from "./lib/servers.ts";
import { FakeCredentials } from "./servers/fakes.ts";

const Name = "outbox";
const StatusUpdates = 25_000;
const Jobs = StatusUpdates * 2;
const TimeLimitMs = Number(process.env.BENCH_OUTBOX_LIMIT_MS ?? 60_000);
const Languages = 3;

async function seedJobs(databasePath: string): Promise<void> {
  const handle = openBenchDatabase(databasePath);
  const partner = seedPartner(handle);
  const userIds = seedUsers(handle.sqlite, { clientId: partner.clientId, count: StatusUpdates });
  const samples = seedWatchedReceipts(handle.sqlite, {
    userIds: userIds.slice(0, Languages),
    count: Languages,
    nextCheckAt: Date.now() - 60_000,
  });
  const copies = seedWatchedReceipts(handle.sqlite, {
    userIds: userIds.slice(Languages),
    count: StatusUpdates - Languages,
    first: Languages,
    nextCheckAt: Date.now() + 365 * 24 * 60 * 60 * 1000,
  });
  const checked = await runCheckerOnce(handle, { now: Date.now(), maxReceipts: Languages });
  if (checked !== Languages) throw new Error(`the checker wrote ${checked} samples, not 3`);
  copySamples(handle.sqlite, samples.caseIds, copies.caseIds);
  handle.close();
}

/** Case i gets a copy of sample i % 3's status update and jobs, addressed to its own user. */
function copySamples(sqlite: Database, sampleCases: number[], caseIds: number[]): void {
  const columns = (sqlite.query("PRAGMA table_info(status_updates)").all() as { name: string }[])
    .map((column) => column.name)
    .filter((name) => name !== "id" && name !== "case_id")
    .join(", ");
  const copyUpdate = sqlite.query(
    `INSERT INTO status_updates (case_id, ${columns}) SELECT ?, ${columns}
     FROM status_updates WHERE id = ? RETURNING id`,
  );
  const copyJob = sqlite.query(
    `INSERT INTO outbox_jobs (channel, purpose, idempotency_key, user_id, status_update_id,
       payload, state, attempts, next_attempt_at, created_at, updated_at)
     SELECT channel, purpose, ?, ?, ?, json_set(payload, '$.message.to', ?), 'pending', 0,
       next_attempt_at, created_at, updated_at FROM outbox_jobs WHERE id = ?`,
  );
  const samples = sampleCases.map((caseId) => {
    const update = sqlite.query("SELECT id FROM status_updates WHERE case_id = ?").get(caseId) as {
      id: number;
    };
    const jobs = sqlite
      .query("SELECT id, channel FROM outbox_jobs WHERE status_update_id = ? ORDER BY channel")
      .all(update.id) as { id: number; channel: string }[];
    return { updateId: update.id, jobs };
  });
  const owner = sqlite.query(
    "SELECT u.id, u.email, u.phone FROM cases c JOIN users u ON u.id = c.user_id WHERE c.id = ?",
  );
  sqlite.transaction(() => {
    caseIds.forEach((caseId, index) => {
      const sample = samples[(index + Languages) % Languages]!;
      const user = owner.get(caseId) as { id: number; email: string; phone: string };
      const { id: updateId } = copyUpdate.get(caseId, sample.updateId) as { id: number };
      for (const job of sample.jobs) {
        const to = job.channel === "email" ? user.email : user.phone;
        copyJob.run(`job_bench_${caseId}_${job.channel}`, user.id, updateId, to, job.id);
      }
    });
  })();
}

export async function runOutbox(): Promise<BenchRow[]> {
  const dir = scratchDir(Name);
  const databasePath = join(dir, "outbox.db");
  progress(Name, `seeding ${formatInt(Jobs)} jobs`);
  await seedJobs(databasePath);

  const fakes = await startServer({ script: "bench/servers/fakes.ts" });
  const config = loadConfig(
    {
      DATABASE_PATH: databasePath,
      PUBLIC_BASE_URL: "http://127.0.0.1:9",
      RESEND_API_KEY: FakeCredentials.resendApiKey,
      RESEND_BASE_URL: String(fakes.ready.resend),
      EMAIL_FROM: "Bench Immigration Law <cases@bench.example>",
      TWILIO_ACCOUNT_SID: FakeCredentials.twilioAccountSid,
      TWILIO_AUTH_TOKEN: FakeCredentials.twilioAuthToken,
      TWILIO_WHATSAPP_FROM: "+14155238886",
      TWILIO_CONTENT_SID_EN: `HX${"1".repeat(32)}`,
      TWILIO_CONTENT_SID_ES: `HX${"2".repeat(32)}`,
      TWILIO_CONTENT_SID_PT: `HX${"3".repeat(32)}`,
      TWILIO_API_BASE_URL: String(fakes.ready.twilio),
    },
    false,
  );
  const database = openDatabase(databasePath);
  const logger = createLogger({
    level: "info",
    format: "json",
    destination: pino.destination({ dest: join(dir, "outbox.log"), sync: true }),
  });
  const clock = systemClock;
  const worker = createOutboxWorker({
    db: database.db,
    clock,
    logger,
    // The real sender with its pacing lifted: EMAIL_RATE_PER_SECOND stops at 1,000 a second.
    email: createResendSender({
      apiKey: config.resendApiKey,
      baseUrl: config.resendBaseUrl,
      from: config.emailFrom,
      ratePerSecond: 1_000_000,
      logger,
    }),
    whatsapp: createWhatsAppSender(config, logger),
    webhooks: createWebhookSender({ db: database.db, clock, allowPrivate: true, allowHttp: true }),
  });

  try {
    progress(Name, "delivering");
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    const loop = startOutboxLoop(worker, logger);
    // One index probe, not a count: this poll runs in the measured process, every 100 ms.
    const open = `SELECT EXISTS (SELECT 1 FROM outbox_jobs
      WHERE state IN ('pending', 'in_flight')) AS n`;
    while (countRows(database.sqlite, open) > 0 && performance.now() - started < TimeLimitMs) {
      await Bun.sleep(100);
    }
    const seconds = (performance.now() - started) / 1000;
    await loop.stop();
    // The wall clock is shared with whatever else runs; CPU time per job is this process's own.
    const cpu = process.cpuUsage(cpuBefore);

    const sent = countRows(
      database.sqlite,
      "SELECT count(*) AS n FROM outbox_jobs WHERE state = 'sent'",
    );
    // Delivered is not enough: each status update must say that both its messages went out.
    const notified = countRows(
      database.sqlite,
      `SELECT count(*) AS n FROM status_updates
       WHERE email_notify_status = 'sent' AND whatsapp_notify_status = 'sent'`,
    );
    const rate = sent / seconds;
    const complete = sent === Jobs && notified === StatusUpdates;
    const done = sent === Jobs ? "" : `, ${formatInt(sent)} of 50k in 60 s`;
    const cpuMsPerJob = (cpu.user + cpu.system) / 1000 / Math.max(1, sent);
    progress(
      Name,
      `${formatInt(sent)} jobs sent in ${formatMs(seconds * 1000)}, ` +
        `${cpuMsPerJob.toFixed(3)} ms CPU a job`,
    );
    return [
      {
        benchmark: "Outbox: 50k jobs to Resend/Twilio fakes",
        figure: `${formatInt(rate)} jobs/s${done}`,
        reference: ">= 1,000 jobs/s",
        pass: rate >= 1_000 && (complete || sent < Jobs),
        values: {
          sent,
          seconds,
          status_updates_notified: notified,
          cpu_ms_per_job: cpuMsPerJob,
        },
      },
    ];
  } finally {
    database.close();
    await fakes.stop();
  }
}

if (import.meta.main) await benchMain(Name, runOutbox);
