import { and, asc, eq, sql } from "drizzle-orm";
import type { Db, Executor } from "../db/connection.ts";
import { cases, clients, users } from "../db/schema.ts";

export type ClientRow = typeof clients.$inferSelect;

export function findClientById(db: Db, id: number): ClientRow | undefined {
  return db.select().from(clients).where(eq(clients.id, id)).get();
}

export function insertClient(db: Db, values: typeof clients.$inferInsert): ClientRow {
  return db.insert(clients).values(values).returning().get();
}

export function listClients(db: Db): ClientRow[] {
  return db.select().from(clients).orderBy(asc(clients.id)).all();
}

export function updateClient(
  db: Executor,
  id: number,
  values: Partial<typeof clients.$inferInsert>,
): ClientRow | undefined {
  return db.update(clients).set(values).where(eq(clients.id, id)).returning().get();
}

export function clientUsage(db: Db, clientId: number) {
  const userCount = db
    .select({ n: sql<number>`count(*)` })
    .from(users)
    .where(eq(users.clientId, clientId))
    .get();
  const caseCounts = db
    .select({
      all: sql<number>`count(*)`,
      active: sql<number>`coalesce(sum(${cases.active}), 0)`,
    })
    .from(cases)
    .innerJoin(users, eq(users.id, cases.userId))
    .where(eq(users.clientId, clientId))
    .get();
  return {
    users: userCount?.n ?? 0,
    cases: caseCounts?.all ?? 0,
    active_cases: caseCounts?.active ?? 0,
  };
}

/**
 * The user who owns a case, found by the case's numeric id or FLOW id among all of one
 * partner's users; another partner's case does not exist here.
 */
export function findCaseOwner(db: Db, clientId: number, caseRef: string) {
  const byRef = /^\d{1,15}$/.test(caseRef)
    ? eq(cases.id, Number(caseRef))
    : eq(cases.userCaseId, caseRef.toUpperCase());
  return db
    .select({ user: users })
    .from(cases)
    .innerJoin(users, eq(users.id, cases.userId))
    .where(and(eq(users.clientId, clientId), byRef))
    .get()?.user;
}
