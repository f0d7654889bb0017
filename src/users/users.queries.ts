import { and, desc, eq, getTableColumns, gt, isNull, lt, type SQL, sql } from "drizzle-orm";
import type { Db, Executor } from "../db/connection.ts";
import { flatRows } from "../db/flat-rows.ts";
import { preparedPerDatabase } from "../db/prepared.ts";
import { clients, emailTokens, users } from "../db/schema.ts";

export type UserRow = typeof users.$inferSelect;

const userRows = flatRows(getTableColumns(users));

const partnersUser = preparedPerDatabase((db) =>
  db
    .select(getTableColumns(users))
    .from(users)
    .where(
      and(eq(users.id, sql.placeholder("userId")), eq(users.clientId, sql.placeholder("clientId"))),
    )
    .prepare(),
);

/** A user, only when it belongs to the given partner: another partner's user does not exist. */
export function findUser(db: Executor, clientId: number, userId: number): UserRow | undefined {
  // Every partner's request for a user's resource reads it: flat, see flatRows.
  const [values] = partnersUser(db).values({ userId, clientId });
  return values && userRows.read(values);
}

export function findUserByEmail(db: Executor, clientId: number, email: string) {
  return db
    .select()
    .from(users)
    .where(and(eq(users.clientId, clientId), eq(users.email, email)))
    .get();
}

export function listUsers(
  db: Db,
  clientId: number,
  filter: { email?: string; status?: "active" | "disabled"; beforeId?: number; limit: number },
): UserRow[] {
  const conditions: SQL[] = [eq(users.clientId, clientId)];
  if (filter.email !== undefined) conditions.push(eq(users.email, filter.email));
  if (filter.status !== undefined) conditions.push(eq(users.status, filter.status));
  if (filter.beforeId !== undefined) conditions.push(lt(users.id, filter.beforeId));
  return db
    .select()
    .from(users)
    .where(and(...conditions))
    .orderBy(desc(users.id))
    .limit(filter.limit + 1)
    .all();
}

export function insertUser(db: Executor, values: typeof users.$inferInsert): UserRow {
  return db.insert(users).values(values).returning().get();
}

export function updateUser(
  db: Executor,
  userId: number,
  values: Partial<typeof users.$inferInsert>,
) {
  return db.update(users).set(values).where(eq(users.id, userId)).returning().get();
}

export function deleteUser(db: Executor, userId: number): void {
  db.delete(users).where(eq(users.id, userId)).run();
}

export function insertEmailToken(db: Executor, values: typeof emailTokens.$inferInsert): void {
  db.insert(emailTokens).values(values).run();
}

/** Every link not yet used stops working: only the newest e-mail's link counts. */
export function findTokenWithOwner(tx: Executor, tokenHash: string) {
  const row = tx
    .select({ emailToken: emailTokens, user: users, client: clients })
    .from(emailTokens)
    .innerJoin(users, eq(users.id, emailTokens.userId))
    .innerJoin(clients, eq(clients.id, users.clientId))
    .where(eq(emailTokens.tokenHash, tokenHash))
    .get();
  return row ?? null;
}

export function markTokenUsed(tx: Executor, tokenId: number, now: number): void {
  tx.update(emailTokens).set({ usedAt: now }).where(eq(emailTokens.id, tokenId)).run();
}

export function expireUnusedTokens(tx: Executor, userId: number, now: number): void {
  tx.update(emailTokens)
    .set({ expiresAt: now })
    .where(
      and(
        eq(emailTokens.userId, userId),
        isNull(emailTokens.usedAt),
        gt(emailTokens.expiresAt, now),
      ),
    )
    .run();
}
