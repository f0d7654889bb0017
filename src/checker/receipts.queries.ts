import { and, asc, count, eq, exists, inArray, isNull, lte, sql } from "drizzle-orm";
import type { Executor } from "../db/connection.ts";
import { prepared, setPlaceholders } from "../db/prepared.ts";
import { cases, clients, receipts, statusUpdates, users } from "../db/schema.ts";

export type { Executor };

export type ReceiptRow = typeof receipts.$inferSelect;
export type CaseRow = typeof cases.$inferSelect;
export type UserRow = typeof users.$inferSelect;
export type ClientRow = typeof clients.$inferSelect;
export type StatusUpdateRow = typeof statusUpdates.$inferSelect;

/** A case that is being watched right now, with the user and partner it belongs to. */
export interface Watcher {
  case: CaseRow;
  user: UserRow;
  client: ClientRow;
}

/**
 * Starts (or resumes) watching a receipt for a case; the cases service calls it inside its own
 * transaction, before inserting the case, since cases.receipt_number references the row.
 *
 * The receipt is always checked again, first thing in the next tick, even when another case
 * already watches it and it was looked at minutes ago. Seeding the new case from the receipt's
 * last observation would save one USCIS call, but that answer can be hours old, and the moment
 * a person adds a case is the moment they compare us with USCIS's own page. One extra call per
 * new case is small next to the scheduled checks, and every status update then comes from a
 * live answer through the one code path that writes them.
 */
export function watchReceipt(db: Executor, receiptNumber: string, now: number): void {
  db.insert(receipts)
    .values({ receiptNumber, nextCheckAt: now, priority: true, createdAt: now })
    .onConflictDoUpdate({
      target: receipts.receiptNumber,
      set: { priority: true, nextCheckAt: now },
    })
    .run();
}

/** Only cases that someone is still waiting on are checked or written to. */
function watchedCondition() {
  return and(eq(cases.active, true), eq(users.status, "active"), isNull(clients.disabledAt));
}

function isWatched(db: Executor) {
  return exists(
    db
      .select({ id: cases.id })
      .from(cases)
      .innerJoin(users, eq(users.id, cases.userId))
      .innerJoin(clients, eq(clients.id, users.clientId))
      .where(and(eq(cases.receiptNumber, receipts.receiptNumber), watchedCondition())),
  );
}

/** The due read of one priority, unprepared: what a test asks SQLite to explain. */
export const dueOfPriorityQuery = (db: Executor, priority: boolean) =>
  db
    .select({ receiptNumber: receipts.receiptNumber })
    .from(receipts)
    .where(
      and(
        eq(receipts.priority, priority),
        lte(receipts.nextCheckAt, sql.placeholder("now")),
        isWatched(db),
      ),
    )
    .orderBy(asc(receipts.nextCheckAt), asc(receipts.receiptNumber))
    .limit(sql.placeholder("limit"));
const duePriority = (db: Executor) => dueOfPriorityQuery(db, true).prepare();
const dueRegular = (db: Executor) => dueOfPriorityQuery(db, false).prepare();

/**
 * Receipts to check now: just-watched ones first, then the longest overdue. One statement per
 * priority, so each walks receipts_due from its oldest entry and stops at the limit; ordered by
 * (priority desc, next_check_at) in one, SQLite would gather and sort every due receipt, each
 * tick, which with a backlog of 100,000 cost more than checking the tick's receipts.
 */
export function dueReceipts(db: Executor, now: number, limit: number): string[] {
  if (limit <= 0) return [];
  const first = prepared(db, duePriority).all({ now, limit });
  const rest =
    first.length < limit ? prepared(db, dueRegular).all({ now, limit: limit - first.length }) : [];
  return [...first, ...rest].map((row) => row.receiptNumber);
}

/** What a watcher's next update is compared with and counted after. */
export interface CaseRecordState {
  /** The case's newest status update, if it has one. */
  latest: StatusUpdateRow | undefined;
  /** Status updates the case has now. */
  updateCount: number;
}

/**
 * A case watching a receipt, as much of it as deciding whether an answer needs comparing takes.
 * Most answers repeat what the case's last update covers, and those need nothing more.
 */
export interface WatchingCase {
  caseId: number;
  observedDigest: string | null;
  checkError: string | null;
}

export interface ReceiptState {
  receipt: ReceiptRow;
  watchers: WatchingCase[];
}

/** A list bound as one JSON parameter, so a statement for any number of values is prepared once. */
const jsonList = (name: string) => sql`(select value from json_each(${sql.placeholder(name)}))`;

const receiptsIn = (db: Executor) =>
  db
    .select()
    .from(receipts)
    .where(inArray(receipts.receiptNumber, jsonList("numbers")))
    .prepare();

const watchingIn = (db: Executor) =>
  db
    .select({
      receiptNumber: cases.receiptNumber,
      caseId: cases.id,
      observedDigest: cases.observedDigest,
      checkError: cases.checkError,
    })
    .from(cases)
    .innerJoin(users, eq(users.id, cases.userId))
    .innerJoin(clients, eq(clients.id, users.clientId))
    .where(and(inArray(cases.receiptNumber, jsonList("numbers")), watchedCondition()))
    .orderBy(asc(cases.id))
    .prepare();

const watchersById = (db: Executor) =>
  db
    .select({ case: cases, user: users, client: clients })
    .from(cases)
    .innerJoin(users, eq(users.id, cases.userId))
    .innerJoin(clients, eq(clients.id, users.clientId))
    .where(inArray(cases.id, jsonList("caseIds")))
    .orderBy(asc(cases.id))
    .prepare();

const latestIn = (db: Executor) =>
  db
    .select()
    .from(statusUpdates)
    .where(
      inArray(
        statusUpdates.id,
        sql`(select max(${statusUpdates.id}) from ${statusUpdates}
          where ${statusUpdates.caseId} in ${jsonList("caseIds")}
          group by ${statusUpdates.caseId})`,
      ),
    )
    .prepare();

// Its own statement: as a subquery of latestIn, drizzle writes the outer case_id unqualified,
// and inside the subquery that names the inner table's, so every update would be counted.
const countsIn = (db: Executor) =>
  db
    .select({ caseId: statusUpdates.caseId, updateCount: count() })
    .from(statusUpdates)
    .where(inArray(statusUpdates.caseId, jsonList("caseIds")))
    .groupBy(statusUpdates.caseId)
    .prepare();

/**
 * The receipts of a batch with the cases watching them, in two statements rather than a few
 * per receipt. Read inside the batch's transaction: nothing else writes meanwhile, and
 * recording one receipt touches only its own receipt, cases and updates, so this is what each
 * receipt would have read for itself. A receipt no longer in the table is missing from the map.
 */
export function loadReceipts(db: Executor, receiptNumbers: string[]): Map<string, ReceiptState> {
  const numbers = JSON.stringify(receiptNumbers);
  const states = new Map<string, ReceiptState>();
  for (const receipt of prepared(db, receiptsIn).all({ numbers })) {
    states.set(receipt.receiptNumber, { receipt, watchers: [] });
  }
  for (const { receiptNumber, ...watching } of prepared(db, watchingIn).all({ numbers })) {
    states.get(receiptNumber)?.watchers.push(watching);
  }
  return states;
}

/**
 * The cases given with their users and partners, in full: for the cases a status update may be
 * written for, or an event emitted about. Read in the transaction loadReceipts read them in.
 */
export function loadWatchers(db: Executor, caseIds: number[]): Map<number, Watcher> {
  const watchers = new Map<number, Watcher>();
  if (caseIds.length === 0) return watchers;
  for (const watcher of prepared(db, watchersById).all({ caseIds: JSON.stringify(caseIds) })) {
    watchers.set(watcher.case.id, watcher);
  }
  return watchers;
}

/**
 * The newest update and the update count of each case given, in one statement. Only for the
 * cases that need comparing: the newest update carries the whole history, the biggest thing
 * the checker reads. A case without updates gets none.
 */
export function loadCaseRecords(db: Executor, caseIds: number[]): Map<number, CaseRecordState> {
  const records = new Map<number, CaseRecordState>();
  if (caseIds.length === 0) return records;
  const ids = JSON.stringify(caseIds);
  const counts = new Map<number, number>();
  for (const row of prepared(db, countsIn).all({ caseIds: ids })) {
    counts.set(row.caseId, row.updateCount);
  }
  for (const latest of prepared(db, latestIn).all({ caseIds: ids })) {
    records.set(latest.caseId, { latest, updateCount: counts.get(latest.caseId) ?? 0 });
  }
  return records;
}

export function updateReceipt(
  db: Executor,
  receiptNumber: string,
  values: Partial<Omit<ReceiptRow, "receiptNumber" | "createdAt">>,
): void {
  db.update(receipts).set(values).where(eq(receipts.receiptNumber, receiptNumber)).run();
}

/** What a found answer writes to its receipt: every field a check moves. */
export type ReceiptCheck = Omit<ReceiptRow, "receiptNumber" | "createdAt">;

const receiptChecked = (db: Executor) =>
  db
    .update(receipts)
    .set(
      setPlaceholders(
        "formType",
        "observationDigest",
        "lastCheckedAt",
        "lastAttemptAt",
        "nextCheckAt",
        "priority",
        "consecutiveFailures",
        "lastError",
        "failingSince",
      ),
    )
    .where(eq(receipts.receiptNumber, sql.placeholder("receiptNumber")))
    .prepare();

export function recordReceiptCheck(db: Executor, receiptNumber: string, check: ReceiptCheck) {
  prepared(db, receiptChecked).run({ ...check, receiptNumber });
}

export function setCheckError(db: Executor, caseIds: number[], checkError: string | null): void {
  if (caseIds.length === 0) return;
  db.update(cases).set({ checkError }).where(inArray(cases.id, caseIds)).run();
}

const lastUpdateOfCase = (db: Executor) =>
  db
    .update(cases)
    .set(setPlaceholders("lastStatusUpdateId", "observedDigest"))
    .where(eq(cases.id, sql.placeholder("caseId")))
    .prepare();

/** The case's newest update, and the digest of the answer it was written from. */
export function setLastStatusUpdate(
  db: Executor,
  caseId: number,
  statusUpdateId: number,
  observedDigest: string,
): void {
  prepared(db, lastUpdateOfCase).run({
    caseId,
    lastStatusUpdateId: statusUpdateId,
    observedDigest,
  });
}

const observedDigestOfCase = (db: Executor) =>
  db
    .update(cases)
    .set(setPlaceholders("observedDigest"))
    .where(eq(cases.id, sql.placeholder("caseId")))
    .prepare();

/** An answer compared in full that changed nothing: the case's last update covers it too. */
export function setObservedDigest(db: Executor, caseId: number, observedDigest: string): void {
  prepared(db, observedDigestOfCase).run({ caseId, observedDigest });
}

/** A status update as the checker writes it: every column given, so the row is known. */
export type StatusUpdateDraft = Omit<StatusUpdateRow, "id">;

const statusUpdateInsert = (db: Executor) =>
  db
    .insert(statusUpdates)
    .values({
      caseId: sql.placeholder("caseId"),
      kind: sql.placeholder("kind"),
      category: sql.placeholder("category"),
      statusCode: sql.placeholder("statusCode"),
      statusDescription: sql.placeholder("statusDescription"),
      statusCodeEs: sql.placeholder("statusCodeEs"),
      statusDescriptionEs: sql.placeholder("statusDescriptionEs"),
      statusCodePt: sql.placeholder("statusCodePt"),
      statusDescriptionPt: sql.placeholder("statusDescriptionPt"),
      formType: sql.placeholder("formType"),
      detailMessage: sql.placeholder("detailMessage"),
      submittedDate: sql.placeholder("submittedDate"),
      modifiedDate: sql.placeholder("modifiedDate"),
      history: sql.placeholder("history"),
      timestamp: sql.placeholder("timestamp"),
      notified: sql.placeholder("notified"),
      emailNotifyStatus: sql.placeholder("emailNotifyStatus"),
      whatsappNotifyStatus: sql.placeholder("whatsappNotifyStatus"),
      emailNotifyAttempts: sql.placeholder("emailNotifyAttempts"),
      whatsappNotifyAttempts: sql.placeholder("whatsappNotifyAttempts"),
      emailNotifyLastError: sql.placeholder("emailNotifyLastError"),
      whatsappNotifyLastError: sql.placeholder("whatsappNotifyLastError"),
      emailNotifySentAt: sql.placeholder("emailNotifySentAt"),
      whatsappNotifySentAt: sql.placeholder("whatsappNotifySentAt"),
    })
    .returning({ id: statusUpdates.id })
    .prepare();

/**
 * Only the id comes back: every other column was given, so the row is the draft, and reading
 * it back would parse the history the caller already holds.
 */
export function insertStatusUpdate(db: Executor, draft: StatusUpdateDraft): StatusUpdateRow {
  const { id } = prepared(db, statusUpdateInsert).get(draft)!;
  return { id, ...draft };
}

export interface NotifyFields {
  notified: number;
  emailNotifyStatus: StatusUpdateRow["emailNotifyStatus"];
  whatsappNotifyStatus: StatusUpdateRow["whatsappNotifyStatus"];
  emailNotifyLastError: string | null;
  whatsappNotifyLastError: string | null;
}

const notifyFieldsUpdate = (db: Executor) =>
  db
    .update(statusUpdates)
    .set(
      setPlaceholders(
        "notified",
        "emailNotifyStatus",
        "whatsappNotifyStatus",
        "emailNotifyLastError",
        "whatsappNotifyLastError",
      ),
    )
    .where(eq(statusUpdates.id, sql.placeholder("id")))
    .prepare();

/** The notification plan's fields, written once the plan is known. */
export function setNotifyFields(db: Executor, id: number, fields: NotifyFields): void {
  prepared(db, notifyFieldsUpdate).run({ ...fields, id });
}
