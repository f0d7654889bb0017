import { and, desc, eq, getTableColumns, gte, lt, type SQL, sql } from "drizzle-orm";
import type { Db, Executor } from "../db/connection.ts";
import { preparedPerDatabase } from "../db/prepared.ts";
import { cases, receipts, statusUpdates, users } from "../db/schema.ts";

export type CaseRow = typeof cases.$inferSelect;
export type StatusUpdateRow = typeof statusUpdates.$inferSelect;
/** A status update with its history as the UTF-8 JSON stored, neither decoded nor parsed. */
export type StoredStatusUpdateRow = Omit<StatusUpdateRow, "history"> & { history: Uint8Array };

const updateCount = sql<number>`(select count(*) from ${statusUpdates}
  where ${statusUpdates.caseId} = ${cases.id})`.mapWith(Number);

/** A case row with what its summary needs: the newest update, the count, the receipt's check. */
const summaryColumns = {
  case: cases,
  lastChecked: receipts.lastCheckedAt,
  formType: statusUpdates.formType,
  statusCode: statusUpdates.statusCode,
  statusCategory: statusUpdates.category,
  statusUpdatedAt: statusUpdates.timestamp,
  updateCount,
};

export type CaseSummaryRow = {
  case: CaseRow;
  lastChecked: number | null;
  formType: string | null;
  statusCode: string | null;
  statusCategory: string | null;
  statusUpdatedAt: number | null;
  updateCount: number;
};

function summaries(db: Executor, where: SQL | undefined, limit: number): CaseSummaryRow[] {
  return db
    .select(summaryColumns)
    .from(cases)
    .innerJoin(receipts, eq(receipts.receiptNumber, cases.receiptNumber))
    .leftJoin(statusUpdates, eq(statusUpdates.id, cases.lastStatusUpdateId))
    .where(where)
    .orderBy(desc(cases.id))
    .limit(limit)
    .all();
}

export function listCaseSummaries(
  db: Db,
  userId: number,
  filter: { active?: boolean; beforeId?: number; limit: number },
): CaseSummaryRow[] {
  const conditions: SQL[] = [eq(cases.userId, userId)];
  if (filter.active !== undefined) conditions.push(eq(cases.active, filter.active));
  if (filter.beforeId !== undefined) conditions.push(lt(cases.id, filter.beforeId));
  return summaries(db, and(...conditions), filter.limit + 1);
}

export type PartnerCaseSummaryRow = CaseSummaryRow & {
  user: { id: number; email: string; name: string | null };
};

/**
 * Every case of one partner's users, newest first, for the back office. `statusUpdatedSince`
 * and `category` look at the newest status update, so a case never checked matches neither.
 */
export function listPartnerCaseSummaries(
  db: Db,
  clientId: number,
  filter: {
    userId?: number;
    active?: boolean;
    category?: string;
    receiptNumber?: string;
    statusUpdatedSince?: number;
    beforeId?: number;
    limit: number;
  },
): PartnerCaseSummaryRow[] {
  const conditions: SQL[] = [eq(users.clientId, clientId)];
  if (filter.userId !== undefined) conditions.push(eq(cases.userId, filter.userId));
  if (filter.active !== undefined) conditions.push(eq(cases.active, filter.active));
  if (filter.category !== undefined) conditions.push(eq(statusUpdates.category, filter.category));
  if (filter.receiptNumber !== undefined) {
    conditions.push(eq(cases.receiptNumber, filter.receiptNumber));
  }
  if (filter.statusUpdatedSince !== undefined) {
    conditions.push(gte(statusUpdates.timestamp, filter.statusUpdatedSince));
  }
  if (filter.beforeId !== undefined) conditions.push(lt(cases.id, filter.beforeId));
  return db
    .select({ ...summaryColumns, user: { id: users.id, email: users.email, name: users.name } })
    .from(cases)
    .innerJoin(users, eq(users.id, cases.userId))
    .innerJoin(receipts, eq(receipts.receiptNumber, cases.receiptNumber))
    .leftJoin(statusUpdates, eq(statusUpdates.id, cases.lastStatusUpdateId))
    .where(and(...conditions))
    .orderBy(desc(cases.id))
    .limit(filter.limit + 1)
    .all();
}

function caseLookup(db: Executor, byRef: SQL) {
  return db
    .select({ case: cases, lastChecked: receipts.lastCheckedAt })
    .from(cases)
    .innerJoin(receipts, eq(receipts.receiptNumber, cases.receiptNumber))
    .where(and(eq(cases.userId, sql.placeholder("userId")), byRef))
    .prepare();
}

const caseById = preparedPerDatabase((db) => caseLookup(db, eq(cases.id, sql.placeholder("ref"))));
const caseByFlowId = preparedPerDatabase((db) =>
  caseLookup(db, eq(cases.userCaseId, sql.placeholder("ref"))),
);

/** `case_ref` is the numeric id or the FLOW id; either way only within the one user. */
export function findCase(db: Executor, userId: number, caseRef: string) {
  return /^\d{1,15}$/.test(caseRef)
    ? caseById(db).get({ userId, ref: Number(caseRef) })
    : caseByFlowId(db).get({ userId, ref: caseRef.toUpperCase() });
}

const caseByReceipt = preparedPerDatabase((db) =>
  db
    .select()
    .from(cases)
    .where(
      and(
        eq(cases.userId, sql.placeholder("userId")),
        eq(cases.receiptNumber, sql.placeholder("receiptNumber")),
      ),
    )
    .prepare(),
);

export function findCaseByReceipt(db: Executor, userId: number, receiptNumber: string) {
  return caseByReceipt(db).get({ userId, receiptNumber });
}

const caseWithFlowId = preparedPerDatabase((db) =>
  db
    .select({ id: cases.id })
    .from(cases)
    .where(eq(cases.userCaseId, sql.placeholder("userCaseId")))
    .prepare(),
);

export function userCaseIdTaken(db: Executor, userCaseId: string): boolean {
  return caseWithFlowId(db).get({ userCaseId }) !== undefined;
}

export function insertCase(db: Executor, values: typeof cases.$inferInsert): CaseRow {
  return db.insert(cases).values(values).returning().get();
}

export function updateCase(
  db: Executor,
  caseId: number,
  values: Partial<typeof cases.$inferInsert>,
) {
  return db.update(cases).set(values).where(eq(cases.id, caseId)).returning().get()!;
}

export function deleteCase(db: Executor, caseId: number): void {
  db.delete(cases).where(eq(cases.id, caseId)).run();
}

const updatesOfCase = preparedPerDatabase((db) =>
  db
    .select({
      ...getTableColumns(statusUpdates),
      history: sql<Uint8Array>`cast(${statusUpdates.history} as blob)`,
    })
    .from(statusUpdates)
    .where(eq(statusUpdates.caseId, sql.placeholder("caseId")))
    .orderBy(desc(statusUpdates.id))
    .prepare(),
);

export function statusUpdatesOf(db: Executor, caseId: number): StoredStatusUpdateRow[] {
  return updatesOfCase(db).all({ caseId });
}
