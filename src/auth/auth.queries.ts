import { and, desc, eq, gt, inArray, isNull, lt, sql } from "drizzle-orm";
import type { Db, Executor } from "../db/connection.ts";
import { clients, loginCodes, sessions, users } from "../db/schema.ts";

export type LoginCodeRow = typeof loginCodes.$inferSelect;
export type SessionRow = typeof sessions.$inferSelect;

/** A new code replaces whatever the user had before, used, spent or still live. */
export function replaceLoginCode(tx: Executor, values: typeof loginCodes.$inferInsert): void {
  tx.delete(loginCodes).where(eq(loginCodes.userId, values.userId)).run();
  tx.insert(loginCodes).values(values).run();
}

/** The user's newest code that is unused, unexpired and has tries left. */
export function findLiveLoginCode(
  db: Executor,
  userId: number,
  now: number,
  maxAttempts: number,
): LoginCodeRow | undefined {
  return db
    .select()
    .from(loginCodes)
    .where(
      and(
        eq(loginCodes.userId, userId),
        isNull(loginCodes.usedAt),
        gt(loginCodes.expiresAt, now),
        lt(loginCodes.attempts, maxAttempts),
      ),
    )
    .orderBy(desc(loginCodes.id))
    .limit(1)
    .get();
}

export function countWrongGuess(db: Executor, codeId: number): void {
  db.update(loginCodes)
    .set({ attempts: sql`${loginCodes.attempts} + 1` })
    .where(eq(loginCodes.id, codeId))
    .run();
}

export function markLoginCodeUsed(tx: Executor, codeId: number, now: number): void {
  tx.update(loginCodes).set({ usedAt: now }).where(eq(loginCodes.id, codeId)).run();
}

export function insertSession(tx: Executor, values: typeof sessions.$inferInsert): void {
  tx.insert(sessions).values(values).run();
}

/** A session with the user and partner it belongs to, whatever their state. */
export function findSessionByTokenHash(db: Db, tokenHash: string) {
  return db
    .select({ session: sessions, user: users, client: clients })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .innerJoin(clients, eq(clients.id, users.clientId))
    .where(eq(sessions.tokenHash, tokenHash))
    .get();
}

export function touchSession(db: Db, sessionId: number, now: number): void {
  db.update(sessions).set({ lastUsedAt: now }).where(eq(sessions.id, sessionId)).run();
}

export function revokeSessionByTokenHash(db: Db, tokenHash: string, now: number): void {
  db.update(sessions)
    .set({ revokedAt: now })
    .where(and(eq(sessions.tokenHash, tokenHash), isNull(sessions.revokedAt)))
    .run();
}

/** Every live token of the user stops working: for a user who is being disabled. */
export function revokeUserSessions(tx: Executor, userId: number, now: number): void {
  tx.update(sessions)
    .set({ revokedAt: now })
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt)))
    .run();
}

/** Every live token of every user of the partner: for a partner who is being disabled. */
export function revokePartnerSessions(tx: Executor, clientId: number, now: number): void {
  const partnersUsers = tx.select({ id: users.id }).from(users).where(eq(users.clientId, clientId));
  tx.update(sessions)
    .set({ revokedAt: now })
    .where(and(inArray(sessions.userId, partnersUsers), isNull(sessions.revokedAt)))
    .run();
}
