import { and, count, eq, exists, inArray, isNull, lte, min, sql } from "drizzle-orm";
import type { Executor } from "../db/connection.ts";
import { prepared } from "../db/prepared.ts";
import { cases, clients, receipts, users } from "../db/schema.ts";

export interface CheckerLag {
  /** How long the most overdue watched receipt has been waiting; 0 when none is due. */
  lagMs: number;
  dueReceipts: number;
}

/**
 * Due receipts that a case is still waiting on, as the checker picks them: an active case of an
 * active user of a partner that is not disabled.
 *
 * `priority IN (0, 1)` names every value the column holds, so SQLite walks receipts_due over the
 * due entries of each priority only. Without it the index cannot be entered (priority is its
 * first column) and every receipt is read, due or not, at each /health and /metrics scrape: a
 * steady deployment has most receipts scheduled hours ahead, so that is nearly all wasted.
 */
export const checkerLagQuery = (db: Executor) =>
  db
    .select({ oldest: min(receipts.nextCheckAt), due: count() })
    .from(receipts)
    .where(
      and(
        inArray(receipts.priority, [false, true]),
        lte(receipts.nextCheckAt, sql.placeholder("now")),
        exists(
          db
            .select({ id: cases.id })
            .from(cases)
            .innerJoin(users, eq(users.id, cases.userId))
            .innerJoin(clients, eq(clients.id, users.clientId))
            .where(
              and(
                eq(cases.receiptNumber, receipts.receiptNumber),
                eq(cases.active, true),
                eq(users.status, "active"),
                isNull(clients.disabledAt),
              ),
            ),
        ),
      ),
    )
    .prepare();

/** For /health and /metrics: a checker that keeps up has little lag whatever the number due. */
export function checkerLag(db: Executor, now: number): CheckerLag {
  const row = prepared(db, checkerLagQuery).get({ now });
  const oldest = row?.oldest ?? null;
  return { lagMs: oldest === null ? 0 : Math.max(0, now - oldest), dueReceipts: row?.due ?? 0 };
}
