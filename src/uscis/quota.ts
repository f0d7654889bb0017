import { and, eq, sql } from "drizzle-orm";
import type { Clock } from "../clock.ts";
import type { Db } from "../db/connection.ts";
import { usageCounters } from "../db/schema.ts";

/**
 * The USCIS daily quota, counted in the database per source and UTC day so a restart (or a
 * crash loop) cannot hand out the day's calls twice.
 */

export interface Quota {
  readonly source: string;
  readonly dailyLimit: number;
  /** Counts one call if today's limit allows it; false (and nothing counted) if not. */
  tryConsume(): boolean;
  used(): number;
  remaining(): number;
  /**
   * Calls of today's reserved block not yet handed out: counted in the database, not used.
   * Another connection reading the count subtracts it to see what this holder has really used.
   */
  unspent(): number;
  /** Gives back what is left of a reserved block, on a clean stop: only a crash forfeits it. */
  release(): void;
}

export interface QuotaOptions {
  db: Db;
  source: string;
  dailyLimit: number;
  clock: Clock;
  /**
   * Calls counted ahead with one write, then handed out from memory. Each write is a commit
   * (an fsync under synchronous=FULL, about a millisecond): nothing next to Torch's 10 calls a
   * second, but most of the cost of a call to the in-process simulator. `release` gives back
   * what is left on a clean stop; a crash forfeits it, which errs towards fewer calls, never
   * more. Defaults to 1.
   */
  reserveBlock?: number;
}

export function createQuota(options: QuotaOptions): Quota {
  const { db, source, dailyLimit, clock } = options;
  const blockSize = Math.max(1, Math.floor(options.reserveBlock ?? 1));
  const today = () => new Date(clock.now()).toISOString().slice(0, 10);
  // Counted in the database already, not yet handed out.
  let reserved = { day: "", left: 0 };

  const counted = () => {
    const row = db
      .select({ count: usageCounters.count })
      .from(usageCounters)
      .where(and(eq(usageCounters.source, source), eq(usageCounters.day, today())))
      .get();
    return row?.count ?? 0;
  };
  const unspent = () => (reserved.day === today() ? reserved.left : 0);
  const used = () => counted() - unspent();

  // One statement, so two processes (or two overlapping ticks) sharing the file cannot both
  // take the last calls: the WHERE on the update refuses what would pass the limit.
  const take = (day: string, calls: number) =>
    db
      .insert(usageCounters)
      .values({ source, day, count: calls })
      .onConflictDoUpdate({
        target: [usageCounters.source, usageCounters.day],
        set: { count: sql`${usageCounters.count} + ${calls}` },
        setWhere: sql`${usageCounters.count} + ${calls} <= ${dailyLimit}`,
      })
      .returning({ count: usageCounters.count })
      .all().length > 0;

  return {
    source,
    dailyLimit,
    tryConsume() {
      if (dailyLimit < 1) return false;
      const day = today();
      if (reserved.day === day && reserved.left > 0) {
        reserved.left -= 1;
        return true;
      }
      // A whole block or, near the limit, one call at a time, so every last call can be used.
      const block = Math.min(blockSize, dailyLimit);
      if (block > 1 && take(day, block)) {
        reserved = { day, left: block - 1 };
        return true;
      }
      return take(day, 1);
    },
    used,
    unspent,
    remaining: () => Math.max(0, dailyLimit - used()),
    release() {
      if (reserved.left === 0) return;
      db.update(usageCounters)
        .set({ count: sql`${usageCounters.count} - ${reserved.left}` })
        .where(and(eq(usageCounters.source, source), eq(usageCounters.day, reserved.day)))
        .run();
      reserved = { day: "", left: 0 };
    },
  };
}
