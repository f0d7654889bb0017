import { and, desc, eq, getTableColumns, gte, lt, type SQL, sql } from "drizzle-orm";
import type { Db, Executor } from "../db/connection.ts";
import { flatRows } from "../db/flat-rows.ts";
import { preparedPerDatabase } from "../db/prepared.ts";
import { cases, statusUpdates, users } from "../db/schema.ts";

export type CaseRow = typeof cases.$inferSelect;
export type StatusUpdateRow = typeof statusUpdates.$inferSelect;
/** A status update with its history as the UTF-8 JSON stored, neither decoded nor parsed. */
export type StoredStatusUpdateRow = Omit<StatusUpdateRow, "history"> & { history: Uint8Array };

const p = sql.placeholder;

/**
 * The receipt's last check as a scalar subquery rather than a join: SQLite answers a case
 * read's one row several times faster that way, and a list's rows too. Every case has its
 * receipt (a foreign key).
 */
// Spelled out with table names: in a query over `cases` alone drizzle writes its columns
// unqualified, and inside this subquery a bare "receipt_number" is the receipt's own column,
// which made every case read show the first receipt's check.
const receiptLastChecked = sql<number | null>`(select "receipts"."last_checked_at"
  from "receipts" where "receipts"."receipt_number" = "cases"."receipt_number")`;

// Table names spelled out, as in receiptLastChecked: a bare "id" here would be the update's.
const updateCount = sql<number>`(select count(*) from "status_updates"
  where "status_updates"."case_id" = "cases"."id")`.mapWith(Number);

/** A case row with what its summary needs: the newest update, the count, the receipt's check. */
const summaryColumns = {
  case: cases,
  lastChecked: receiptLastChecked,
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

/**
 * The list queries' SQL depends on which filters a request carries, so each combination is
 * prepared once per database (a handful are ever used) and its values bound per request.
 */
function preparedByShape<Shape extends object, Query>(
  build: (db: Executor, shape: Shape) => Query,
): (db: Executor, shape: Shape) => Query {
  const perDatabase = preparedPerDatabase(() => new Map<string, Query>());
  return (db, shape) => {
    const byShape = perDatabase(db);
    const key = JSON.stringify(shape);
    let query = byShape.get(key);
    if (query === undefined) {
      query = build(db, shape);
      byShape.set(key, query);
    }
    return query;
  };
}

interface UserListFilter {
  active?: boolean;
  beforeId?: number;
  limit: number;
}

/** One user's cases newest first: cases_user (user_id, id) walks them and stops at the page. */
export const userCaseList = preparedByShape((db, shape: { active: boolean; beforeId: boolean }) => {
  const conditions: SQL[] = [eq(cases.userId, p("userId"))];
  if (shape.active) conditions.push(eq(cases.active, p("active")));
  if (shape.beforeId) conditions.push(lt(cases.id, p("beforeId")));
  return db
    .select(summaryColumns)
    .from(cases)
    .leftJoin(statusUpdates, eq(statusUpdates.id, cases.lastStatusUpdateId))
    .where(and(...conditions))
    .orderBy(desc(cases.id))
    .limit(p("limit"))
    .prepare();
});

const userListShape = (filter: UserListFilter) => ({
  active: filter.active !== undefined,
  beforeId: filter.beforeId !== undefined,
});

export function listCaseSummaries(
  db: Db,
  userId: number,
  filter: UserListFilter,
): CaseSummaryRow[] {
  return userCaseList(db, userListShape(filter)).all({
    userId,
    active: filter.active,
    beforeId: filter.beforeId,
    limit: filter.limit + 1,
  });
}

export type PartnerCaseSummaryRow = CaseSummaryRow & {
  user: { id: number; email: string; name: string | null };
};

export interface PartnerListFilter {
  userId?: number;
  active?: boolean;
  category?: string;
  receiptNumber?: string;
  statusUpdatedSince?: number;
  beforeId?: number;
  limit: number;
}

type PartnerListShape = { [K in Exclude<keyof PartnerListFilter, "limit">]: boolean };

export const partnerListShape = (filter: PartnerListFilter): PartnerListShape => ({
  userId: filter.userId !== undefined,
  active: filter.active !== undefined,
  category: filter.category !== undefined,
  receiptNumber: filter.receiptNumber !== undefined,
  statusUpdatedSince: filter.statusUpdatedSince !== undefined,
  beforeId: filter.beforeId !== undefined,
});

/**
 * cases_client (client_id, id) walks a partner's cases newest first and stops at the page.
 * A receipt matches a case or two, so with that filter its own index is the better start;
 * the unary plus (no index may serve that term) lets the planner take it. The user's row is
 * checked too: cases.client_id picks the rows, the owner still decides who may see them.
 */
export const partnerCaseList = preparedByShape((db, shape: PartnerListShape) => {
  const conditions: SQL[] = [
    shape.receiptNumber
      ? sql`+${cases.clientId} = ${p("clientId")}`
      : eq(cases.clientId, p("clientId")),
    sql`+${users.clientId} = ${p("clientId")}`,
  ];
  if (shape.userId) conditions.push(eq(cases.userId, p("userId")));
  if (shape.active) conditions.push(eq(cases.active, p("active")));
  if (shape.category) conditions.push(eq(statusUpdates.category, p("category")));
  if (shape.receiptNumber) conditions.push(eq(cases.receiptNumber, p("receiptNumber")));
  if (shape.statusUpdatedSince) {
    conditions.push(gte(statusUpdates.timestamp, p("statusUpdatedSince")));
  }
  if (shape.beforeId) conditions.push(lt(cases.id, p("beforeId")));
  return db
    .select({ ...summaryColumns, user: { id: users.id, email: users.email, name: users.name } })
    .from(cases)
    .innerJoin(users, eq(users.id, cases.userId))
    .leftJoin(statusUpdates, eq(statusUpdates.id, cases.lastStatusUpdateId))
    .where(and(...conditions))
    .orderBy(desc(cases.id))
    .limit(p("limit"))
    .prepare();
});

/**
 * Every case of one partner's users, newest first, for the back office. `statusUpdatedSince`
 * and `category` look at the newest status update, so a case never checked matches neither.
 */
export function listPartnerCaseSummaries(
  db: Db,
  clientId: number,
  filter: PartnerListFilter,
): PartnerCaseSummaryRow[] {
  return partnerCaseList(db, partnerListShape(filter)).all({
    ...filter,
    clientId,
    limit: filter.limit + 1,
  });
}

const caseColumns = getTableColumns(cases);
const caseRows = flatRows(caseColumns);

function caseLookup(db: Executor, byRef: SQL) {
  return db
    .select({ ...caseColumns, lastChecked: receiptLastChecked })
    .from(cases)
    .where(and(eq(cases.userId, p("userId")), byRef))
    .prepare();
}

const caseById = preparedPerDatabase((db) => caseLookup(db, eq(cases.id, p("ref"))));
const caseByFlowId = preparedPerDatabase((db) => caseLookup(db, eq(cases.userCaseId, p("ref"))));

/** `case_ref` is the numeric id or the FLOW id; either way only within the one user. */
export function findCase(
  db: Executor,
  userId: number,
  caseRef: string,
): { case: CaseRow; lastChecked: number | null } | undefined {
  // Flat, read with `.values()`: drizzle's nested mapping of { case, lastChecked } cost the
  // case read three times what the query itself did (see flatRows).
  const [values] = /^\d{1,15}$/.test(caseRef)
    ? caseById(db).values({ userId, ref: Number(caseRef) })
    : caseByFlowId(db).values({ userId, ref: caseRef.toUpperCase() });
  if (values === undefined) return undefined;
  return { case: caseRows.read(values), lastChecked: values[caseRows.width] as number | null };
}

const caseByReceipt = preparedPerDatabase((db) =>
  db
    .select()
    .from(cases)
    .where(and(eq(cases.userId, p("userId")), eq(cases.receiptNumber, p("receiptNumber"))))
    .prepare(),
);

export function findCaseByReceipt(db: Executor, userId: number, receiptNumber: string) {
  return caseByReceipt(db).get({ userId, receiptNumber });
}

const caseWithFlowId = preparedPerDatabase((db) =>
  db
    .select({ id: cases.id })
    .from(cases)
    .where(eq(cases.userCaseId, p("userCaseId")))
    .prepare(),
);

export function userCaseIdTaken(db: Executor, userCaseId: string): boolean {
  return caseWithFlowId(db).get({ userCaseId }) !== undefined;
}

export interface NewCase {
  userId: number;
  clientId: number;
  receiptNumber: string;
  userCaseId: string;
  description: string | null;
  createdAt: number;
  updatedAt: number;
}

const caseInsert = preparedPerDatabase((db) =>
  db
    .insert(cases)
    .values({
      userId: p("userId"),
      clientId: p("clientId"),
      receiptNumber: p("receiptNumber"),
      userCaseId: p("userCaseId"),
      description: p("description"),
      createdAt: p("createdAt"),
      updatedAt: p("updatedAt"),
    })
    .returning()
    .prepare(),
);

export function insertCase(db: Executor, values: NewCase): CaseRow {
  return caseInsert(db).get({ ...values });
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

const storedUpdateColumns = {
  ...getTableColumns(statusUpdates),
  history: sql<Uint8Array>`cast(${statusUpdates.history} as blob)`,
};
const storedUpdateRows = flatRows(storedUpdateColumns);

const updatesOfCase = preparedPerDatabase((db) =>
  db
    .select(storedUpdateColumns)
    .from(statusUpdates)
    .where(eq(statusUpdates.caseId, p("caseId")))
    .orderBy(desc(statusUpdates.id))
    .prepare(),
);

export function statusUpdatesOf(db: Executor, caseId: number): StoredStatusUpdateRow[] {
  return updatesOfCase(db)
    .values({ caseId })
    .map((values) => storedUpdateRows.read(values));
}
