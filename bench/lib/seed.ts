/**
 * Fast fixtures: rows written with prepared statements in large transactions, straight into
 * the schema the migrations made. Whatever has rules of its own (partner credentials, status
 * updates and the outbox jobs they cause) is made by the real code instead, so the benchmarks
 * measure the service on data it could have written itself.
 */
import type { Database } from "bun:sqlite";
import { createChecker } from "../../src/checker/checker.ts";
import { manualClock } from "../../src/clock.ts";
import { loadConfig } from "../../src/config.ts";
import { type DatabaseHandle, migrate, openDatabase } from "../../src/db/connection.ts";
import { createLogger, type Logger } from "../../src/logger.ts";
import { createNotificationPlanner } from "../../src/notifications/planner.ts";
import { createPartnersService } from "../../src/partners/partners.service.ts";
import { simulateCase } from "../../src/uscis/simulator.ts";
import { createSource } from "../../src/uscis/source.ts";
import { emitCheckFailing } from "../../src/webhooks/webhook-events.ts";

export interface Credentials {
  clientId: number;
  apiKey: string;
  apiSecret: string;
}

export function openBenchDatabase(path: string): DatabaseHandle {
  const handle = openDatabase(path);
  migrate(handle);
  return handle;
}

/** A logger that writes nothing: for seeding, whose log lines nobody reads. */
export function quietLogger(): Logger {
  return createLogger({ level: "silent", format: "json", destination: { write: () => {} } });
}

export function seedPartner(handle: DatabaseHandle, name = "Bench Immigration Law"): Credentials {
  const partners = createPartnersService(handle.db, { now: () => Date.now() });
  const created = partners.create({ name, email: "ops@bench.example" });
  return { clientId: created.client.id, apiKey: created.apiKey, apiSecret: created.apiSecret };
}

/** An endpoint subscribed to everything, so status updates also write webhook deliveries. */
export function seedWebhook(sqlite: Database, clientId: number): void {
  const now = Date.now();
  sqlite
    .query(
      `INSERT INTO webhooks (client_id, url, events, active, secret, created_at, updated_at)
       VALUES (?, 'https://hooks.bench.example/immigraflow', '["*"]', 1, ?, ?, ?)`,
    )
    .run(clientId, `whsec_${"b".repeat(40)}`, now, now);
}

const Languages = ["en", "es", "pt"] as const;

/**
 * Users as a partner's would be once set up: e-mail verified, a phone, both channels on, so
 * every status update of theirs writes an e-mail and a WhatsApp job.
 */
export function seedUsers(
  sqlite: Database,
  options: { clientId: number; count: number; first?: number },
): number[] {
  const now = Date.now();
  const first = options.first ?? 0;
  const insert = sqlite.query(
    `INSERT INTO users (client_id, email, name, phone, preferred_language, email_verified_at,
       notify_by_email, notify_by_whatsapp, status, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, 1, 1, 'active', ?, ?) RETURNING id`,
  );
  const ids: number[] = [];
  sqlite.transaction(() => {
    for (let i = first; i < first + options.count; i += 1) {
      const phone = `+1555${String(i).padStart(7, "0")}`;
      const row = insert.get(
        options.clientId,
        `person${i}@bench.example`,
        `Person ${i}`,
        phone,
        Languages[i % Languages.length]!,
        now,
        now,
        now,
      ) as { id: number };
      ids.push(row.id);
    }
  })();
  return ids;
}

const Prefixes = ["IOE", "EAC", "WAC", "LIN", "SRC", "MSC", "NBC"];

/** Distinct well-formed receipts the simulator knows (none ends in 0000, its 404s). */
export function receiptNumber(index: number): string {
  const digits = String(1_000_000_001 + index * 10);
  return `${Prefixes[index % Prefixes.length]}${digits}`;
}

export interface WatchedReceipts {
  receipts: string[];
  caseIds: number[];
}

/**
 * One receipt and one case per index, the cases dealt round-robin to `userIds`.
 * `nextCheckAt` in the past makes them due; in the future, settled for now.
 */
export function seedWatchedReceipts(
  sqlite: Database,
  options: {
    userIds: number[];
    count: number;
    first?: number;
    nextCheckAt: number;
    lastCheckedAt?: number | null;
  },
): WatchedReceipts {
  const now = Date.now();
  const first = options.first ?? 0;
  const receipt = sqlite.query(
    `INSERT INTO receipts (receipt_number, next_check_at, priority, last_checked_at,
       last_attempt_at, created_at) VALUES (?, ?, 0, ?, ?, ?)`,
  );
  const watch = sqlite.query(
    `INSERT INTO cases (user_id, client_id, receipt_number, user_case_id, description, active,
       created_at, updated_at)
     VALUES (?1, (SELECT client_id FROM users WHERE id = ?1), ?2, ?3, ?4, 1, ?5, ?6)
     RETURNING id`,
  );
  const out: WatchedReceipts = { receipts: [], caseIds: [] };
  const checked = options.lastCheckedAt ?? null;
  const chunk = 10_000;
  for (let start = first; start < first + options.count; start += chunk) {
    const end = Math.min(first + options.count, start + chunk);
    sqlite.transaction(() => {
      for (let i = start; i < end; i += 1) {
        const number = receiptNumber(i);
        receipt.run(number, options.nextCheckAt, checked, checked, now);
        const userId = options.userIds[i % options.userIds.length]!;
        const flowId = `FLOW${String(i).padStart(7, "0")}`;
        const row = watch.get(userId, number, flowId, `Case ${i}`, now, now) as { id: number };
        out.receipts.push(number);
        out.caseIds.push(row.id);
      }
    })();
  }
  return out;
}

/**
 * Runs the real checker over whatever is due, on a clock the caller moves: how status updates
 * and their outbox jobs get into a fixture. Returns the number of receipts checked.
 */
export async function runCheckerOnce(
  handle: DatabaseHandle,
  options: { now: number; maxReceipts: number; checkIntervalMinutes?: number },
): Promise<number> {
  const clock = manualClock(options.now);
  const logger = quietLogger();
  const config = loadConfig(
    {
      DATABASE_PATH: ":memory:",
      USCIS_DAILY_QUOTA: "100000000",
      CHECK_INTERVAL_MINUTES: String(options.checkIntervalMinutes ?? 360),
    },
    false,
  );
  const { source } = createSource(config, { db: handle.db, clock, logger });
  const checker = createChecker({
    db: handle.db,
    source,
    clock,
    logger,
    checkIntervalMinutes: config.checkIntervalMinutes,
    maxReceiptsPerTick: options.maxReceipts,
    planNotifications: createNotificationPlanner(logger),
    onCheckFailing: emitCheckFailing,
  });
  return (await checker.tick()).checked;
}

/**
 * A case with exactly `updates` status updates, each written by the real checker as the
 * simulator's story for the receipt moves on: received, biometrics, review and so on, with
 * their histories. It must be the only due receipt in the database while this runs.
 */
export async function seedCaseWithHistory(
  handle: DatabaseHandle,
  options: { userId: number; index: number; updates: number },
): Promise<{ caseId: number; userCaseId: string; receipt: string }> {
  const stepMs = 12 * 60 * 60 * 1000;
  let at = storyStart(receiptNumber(options.index), Date.now() - 400 * 24 * 60 * 60 * 1000);
  const seeded = seedWatchedReceipts(handle.sqlite, {
    userIds: [options.userId],
    count: 1,
    first: options.index,
    nextCheckAt: at,
  });
  const caseId = seeded.caseIds[0]!;
  const count = handle.sqlite.query("SELECT count(*) AS n FROM status_updates WHERE case_id = ?");
  const due = handle.sqlite.query("UPDATE receipts SET next_check_at = ? WHERE receipt_number = ?");
  for (let step = 0; step < 2_000; step += 1) {
    const { n } = count.get(caseId) as { n: number };
    if (n >= options.updates) break;
    due.run(at, seeded.receipts[0]!);
    await runCheckerOnce(handle, { now: at, maxReceipts: 1 });
    at += stepMs;
  }
  const { n } = count.get(caseId) as { n: number };
  if (n !== options.updates)
    throw new Error(`seeded ${n} status updates, wanted ${options.updates}`);
  // Not due again while the benchmark runs.
  due.run(Date.now() + 365 * 24 * 60 * 60 * 1000, seeded.receipts[0]!);
  return {
    caseId,
    userCaseId: `FLOW${String(options.index).padStart(7, "0")}`,
    receipt: seeded.receipts[0]!,
  };
}

/**
 * The first moment from `from` at which the simulator says the receipt was just received, so
 * the case's history grows from one entry, as a case added on its receipt notice would.
 */
function storyStart(receipt: string, from: number): number {
  const stepMs = 60 * 60 * 1000;
  const unitMs = 2 * 360 * 60_000;
  for (let at = from; at < from + 200 * 24 * stepMs; at += stepMs) {
    const answer = simulateCase(receipt, at, unitMs);
    if (answer.kind === "found" && answer.observation.history.length === 1) return at;
  }
  throw new Error(`the simulator never restarts the story of ${receipt}`);
}

export function countRows(sqlite: Database, sql: string): number {
  return (sqlite.query(sql).get() as { n: number }).n;
}
