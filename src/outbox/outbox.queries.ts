import {
  and,
  asc,
  count,
  eq,
  inArray,
  lt,
  lte,
  min,
  ne,
  type SQL,
  type SQLWrapper,
  sql,
} from "drizzle-orm";
import type { Executor } from "../db/connection.ts";
import { prepared } from "../db/prepared.ts";
import { type OutboxChannel, outboxJobs, statusUpdates, users } from "../db/schema.ts";

export type OutboxJobRow = typeof outboxJobs.$inferSelect;
export type OutboxJobDraft = typeof outboxJobs.$inferInsert;

/** What enqueue writes; the columns left out start at their defaults (pending, no attempts). */
export type NewJob = Pick<
  OutboxJobDraft,
  | "channel"
  | "purpose"
  | "idempotencyKey"
  | "userId"
  | "statusUpdateId"
  | "webhookId"
  | "eventId"
  | "payload"
  | "nextAttemptAt"
  | "createdAt"
  | "updatedAt"
>;

const jobInsert = (db: Executor) =>
  db
    .insert(outboxJobs)
    .values({
      channel: sql.placeholder("channel"),
      purpose: sql.placeholder("purpose"),
      idempotencyKey: sql.placeholder("idempotencyKey"),
      userId: sql.placeholder("userId"),
      statusUpdateId: sql.placeholder("statusUpdateId"),
      webhookId: sql.placeholder("webhookId"),
      eventId: sql.placeholder("eventId"),
      payload: sql.placeholder("payload"),
      nextAttemptAt: sql.placeholder("nextAttemptAt"),
      createdAt: sql.placeholder("createdAt"),
      updatedAt: sql.placeholder("updatedAt"),
    })
    .returning({ id: outboxJobs.id })
    .prepare();

/** The new job's id: its writer has nothing else to learn from the row. */
export function insertJob(db: Executor, job: Required<NewJob>): number {
  return prepared(db, jobInsert).get(job)!.id;
}

/**
 * One channel's jobs that may be taken now: due and pending, or taken by a sender whose lease
 * ran out. A job waits while an older one for the same user and channel is unfinished, so a
 * user hears about a case's moves in the order they happened, even after hours of outage.
 * `loginCodes` asks for sign-in codes only, which go before bulk mail.
 *
 * The two kinds are asked for separately: as one OR, SQLite gathers and sorts every match
 * before the LIMIT, a cost that grows with the backlog; each half alone walks its index
 * (outbox_due_by_channel, or outbox_login_codes_due) in order and stops at `limit`.
 */
export function claimableJobIds(
  db: Executor,
  now: number,
  limit: number,
  channel: OutboxChannel,
  loginCodes = false,
): number[] {
  const params = { now, limit, channel };
  const due = prepared(db, loginCodes ? dueLoginCodesQuery : dueQuery).all(params);
  // Sign-in codes are never looked for among abandoned jobs: those are due again already.
  const abandoned = loginCodes ? [] : prepared(db, abandonedQuery).all(params);
  if (abandoned.length === 0) return due.map((row) => row.id);
  return [...due, ...abandoned]
    .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || a.id - b.id)
    .slice(0, limit)
    .map((row) => row.id);
}

const claimable = (db: Executor, when: SQL, index?: string, inOrder = true) => {
  const earlier = sql`exists (select 1 from ${outboxJobs} as older
    where older.user_id = ${outboxJobs.userId} and older.channel = ${outboxJobs.channel}
      and older.id < ${outboxJobs.id} and older.state in ('pending', 'in_flight'))`;
  const conditions = [when, eq(outboxJobs.channel, sql.placeholder("channel"))];
  if (inOrder) conditions.push(sql`not ${earlier}`);
  // As SQL, not columns: drizzle refuses columns of a table named in a FROM it did not build.
  return db
    .select({
      id: sql<number>`${outboxJobs.id}`,
      nextAttemptAt: sql<number>`${outboxJobs.nextAttemptAt}`,
    })
    .from(index ? sql`${outboxJobs} indexed by ${sql.identifier(index)}` : outboxJobs)
    .where(and(...conditions))
    .orderBy(asc(outboxJobs.nextAttemptAt), asc(outboxJobs.id))
    .limit(sql.placeholder("limit"))
    .prepare();
};

const dueQuery = (db: Executor) =>
  claimable(
    db,
    and(eq(outboxJobs.state, "pending"), lte(outboxJobs.nextAttemptAt, sql.placeholder("now")))!,
  );

/**
 * Named, since without statistics SQLite prefers outbox_due_by_channel and would walk every
 * due e-mail. The literals, not parameters, show it that the partial index covers the query.
 * A code is not held behind the user's older e-mails: it tells nothing about a case, so order
 * does not matter, and one of them may be waiting an hour for its retry.
 */
const dueLoginCodesQuery = (db: Executor) =>
  claimable(
    db,
    sql`${outboxJobs.state} = 'pending' and ${outboxJobs.purpose} = 'login_code'
      and ${outboxJobs.nextAttemptAt} <= ${sql.placeholder("now")}`,
    "outbox_login_codes_due",
    false,
  );

const abandonedQuery = (db: Executor) =>
  claimable(
    db,
    and(eq(outboxJobs.state, "in_flight"), lt(outboxJobs.leaseUntil, sql.placeholder("now")))!,
  );

/**
 * Makes every taken job claimable now. For start-up only: one process owns the database, so
 * jobs still held then belong to a run that crashed, and need not wait for their leases.
 */
export function releaseHeldJobs(db: Executor, now: number): number {
  const released = db
    .update(outboxJobs)
    .set({ leaseUntil: now - 1 })
    .where(eq(outboxJobs.state, "in_flight"))
    .returning({ id: outboxJobs.id })
    .all();
  return released.length;
}

/**
 * Takes claimed jobs in one statement: in flight, leased, one more attempt. The caller read
 * them first, so it knows which were already in flight when taken.
 */
export function takeJobs(db: Executor, ids: number[], leaseUntil: number, now: number): void {
  if (ids.length === 0) return;
  db.update(outboxJobs)
    .set({
      state: "in_flight",
      leaseUntil,
      attempts: sql`${outboxJobs.attempts} + 1`,
      updatedAt: now,
    })
    .where(inArray(outboxJobs.id, ids))
    .run();
}

export function findJob(db: Executor, id: number): OutboxJobRow | undefined {
  return db.select().from(outboxJobs).where(eq(outboxJobs.id, id)).get();
}

export function jobsByIds(db: Executor, ids: number[]): OutboxJobRow[] {
  if (ids.length === 0) return [];
  return db.select().from(outboxJobs).where(inArray(outboxJobs.id, ids)).all();
}

export function updateJob(
  db: Executor,
  id: number,
  values: Partial<Omit<OutboxJobRow, "id">>,
): OutboxJobRow | undefined {
  return db.update(outboxJobs).set(values).where(eq(outboxJobs.id, id)).returning().get();
}

export function findJobByProviderMessage(
  db: Executor,
  channel: OutboxChannel,
  providerMessageId: string,
): OutboxJobRow | undefined {
  return db
    .select()
    .from(outboxJobs)
    .where(
      and(eq(outboxJobs.channel, channel), eq(outboxJobs.providerMessageId, providerMessageId)),
    )
    .get();
}

/** Which of these provider message ids are already another job's. */
export function providerMessagesTaken(
  db: Executor,
  channel: OutboxChannel,
  providerMessageIds: string[],
  exceptJobId: number,
): Set<string> {
  if (providerMessageIds.length === 0) return new Set();
  const rows = db
    .select({ id: outboxJobs.providerMessageId })
    .from(outboxJobs)
    .where(
      and(
        eq(outboxJobs.channel, channel),
        inArray(outboxJobs.providerMessageId, providerMessageIds),
        ne(outboxJobs.id, exceptJobId),
      ),
    )
    .all();
  return new Set(rows.map((row) => row.id!));
}

export function findStatusUpdate(db: Executor, id: number) {
  return db.select().from(statusUpdates).where(eq(statusUpdates.id, id)).get();
}

export function updateStatusUpdateFields(
  db: Executor,
  id: number,
  values: Partial<typeof statusUpdates.$inferInsert>,
): void {
  db.update(statusUpdates).set(values).where(eq(statusUpdates.id, id)).run();
}

export function turnWhatsAppOff(db: Executor, userId: number, now: number): void {
  db.update(users)
    .set({ notifyByWhatsapp: false, updatedAt: now })
    .where(eq(users.id, userId))
    .run();
}

export interface ChannelBacklog {
  pending: number;
  inFlight: number;
  /** Jobs whose time has come: pending and due, or held past their lease. */
  due: number;
  /** When the most overdue of them became due; null when none is. */
  oldestDueAt: number | null;
}

export type OutboxBacklog = Record<OutboxChannel, ChannelBacklog>;

export const OutboxChannels: readonly OutboxChannel[] = ["email", "whatsapp", "webhook"];

const heldQuery = (db: Executor) =>
  db
    .select({ state: outboxJobs.state, channel: outboxJobs.channel, jobs: count() })
    .from(outboxJobs)
    .where(inArray(outboxJobs.state, ["pending", "in_flight"]))
    .groupBy(outboxJobs.state, outboxJobs.channel)
    .prepare();

/**
 * A retry scheduled hours ahead is not late: only jobs due now count. The channels are named so
 * that SQLite enters outbox_due_by_channel at each one's due range, not at every pending job.
 */
const dueByChannelQuery = (db: Executor) =>
  db
    .select({ channel: outboxJobs.channel, jobs: count(), oldest: min(outboxJobs.nextAttemptAt) })
    .from(outboxJobs)
    .where(
      and(
        eq(outboxJobs.state, "pending"),
        inArray(outboxJobs.channel, [...OutboxChannels]),
        lte(outboxJobs.nextAttemptAt, sql.placeholder("now")),
      ),
    )
    .groupBy(outboxJobs.channel)
    .prepare();

/** A job held past its lease belongs to a sender that stopped: due since the lease ended. */
const overheldByChannelQuery = (db: Executor) =>
  db
    .select({ channel: outboxJobs.channel, jobs: count(), oldest: min(outboxJobs.leaseUntil) })
    .from(outboxJobs)
    .where(
      and(eq(outboxJobs.state, "in_flight"), lt(outboxJobs.leaseUntil, sql.placeholder("now"))),
    )
    .groupBy(outboxJobs.channel)
    .prepare();

/** For /health and /metrics, each channel apart: one can be late while the others keep up. */
export function outboxBacklog(db: Executor, now: number): OutboxBacklog {
  const backlog = Object.fromEntries(
    OutboxChannels.map((channel) => [
      channel,
      { pending: 0, inFlight: 0, due: 0, oldestDueAt: null } as ChannelBacklog,
    ]),
  ) as OutboxBacklog;
  for (const row of prepared(db, heldQuery).all()) {
    const entry = backlog[row.channel];
    if (!entry) continue;
    if (row.state === "pending") entry.pending = row.jobs;
    else entry.inFlight = row.jobs;
  }
  const due = [
    ...prepared(db, dueByChannelQuery).all({ now }),
    ...prepared(db, overheldByChannelQuery).all({ now }),
  ];
  for (const row of due) {
    const entry = backlog[row.channel];
    if (!entry) continue;
    entry.due += row.jobs;
    if (row.oldest !== null && (entry.oldestDueAt === null || row.oldest < entry.oldestDueAt)) {
      entry.oldestDueAt = row.oldest;
    }
  }
  return backlog;
}

const param = (name: string) => sql`${sql.placeholder(name)}`;

/**
 * The statements written for every delivery attempt, prepared once per database: building and
 * preparing the SQL anew for each job cost several times what running it does. They run on the
 * connection's current transaction, so a caller inside `db.transaction` gets them in it.
 */
function prepareOutcomeStatements(db: Executor) {
  const byId = eq(outboxJobs.id, sql.placeholder("id"));
  const byUpdate = eq(statusUpdates.id, sql.placeholder("id"));
  // The other channel's status is read in the same statement, as it is at that moment.
  const notified = (other: SQLWrapper) =>
    sql`case when ${sql.placeholder("status")} = 'sent' or ${other} = 'sent' then 1 else 0 end`;
  // A retry or a failure leaves the time of an earlier success as it was.
  const sentAt = (column: SQLWrapper) => sql`coalesce(${sql.placeholder("sentAt")}, ${column})`;
  return {
    current: db
      .select({ state: outboxJobs.state, providerMessageId: outboxJobs.providerMessageId })
      .from(outboxJobs)
      .where(byId)
      .prepare(),
    sendStarted: db
      .update(outboxJobs)
      .set({ sendStartedAt: param("at") })
      .where(byId)
      .prepare(),
    retry: db
      .update(outboxJobs)
      .set({
        state: "pending",
        leaseUntil: null,
        sendStartedAt: param("sendStartedAt"),
        nextAttemptAt: param("nextAttemptAt"),
        lastError: param("lastError"),
        updatedAt: param("updatedAt"),
      })
      .where(byId)
      .prepare(),
    finish: db
      .update(outboxJobs)
      .set({
        state: param("state"),
        leaseUntil: null,
        lastError: param("lastError"),
        providerMessageId: param("providerMessageId"),
        finishedAt: param("now"),
        updatedAt: param("now"),
      })
      .where(byId)
      .prepare(),
    /** A finished job's payload, once its secrets are out of it. */
    erase: db
      .update(outboxJobs)
      .set({ payload: param("payload") })
      .where(byId)
      .prepare(),
    notifyEmail: db
      .update(statusUpdates)
      .set({
        emailNotifyStatus: param("status"),
        emailNotifyAttempts: param("attempts"),
        emailNotifyLastError: param("lastError"),
        emailNotifySentAt: sentAt(statusUpdates.emailNotifySentAt),
        notified: notified(statusUpdates.whatsappNotifyStatus),
      })
      .where(byUpdate)
      .prepare(),
    notifyWhatsapp: db
      .update(statusUpdates)
      .set({
        whatsappNotifyStatus: param("status"),
        whatsappNotifyAttempts: param("attempts"),
        whatsappNotifyLastError: param("lastError"),
        whatsappNotifySentAt: sentAt(statusUpdates.whatsappNotifySentAt),
        notified: notified(statusUpdates.emailNotifyStatus),
      })
      .where(byUpdate)
      .prepare(),
  };
}

export type OutcomeStatements = ReturnType<typeof prepareOutcomeStatements>;

export function outcomeStatements(db: Executor): OutcomeStatements {
  return prepared(db, prepareOutcomeStatements);
}
