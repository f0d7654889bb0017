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
}

export interface QuotaOptions {
  db: Db;
  source: string;
  dailyLimit: number;
  clock: Clock;
}

export function createQuota(options: QuotaOptions): Quota {
  const { db, source, dailyLimit, clock } = options;
  const today = () => new Date(clock.now()).toISOString().slice(0, 10);

  const used = () => {
    const row = db
      .select({ count: usageCounters.count })
      .from(usageCounters)
      .where(and(eq(usageCounters.source, source), eq(usageCounters.day, today())))
      .get();
    return row?.count ?? 0;
  };

  return {
    source,
    dailyLimit,
    tryConsume() {
      if (dailyLimit < 1) return false;
      // One statement, so two processes (or two overlapping ticks) sharing the file cannot both
      // take the last call: the WHERE on the update refuses once the count reaches the limit.
      const counted = db
        .insert(usageCounters)
        .values({ source, day: today(), count: 1 })
        .onConflictDoUpdate({
          target: [usageCounters.source, usageCounters.day],
          set: { count: sql`${usageCounters.count} + 1` },
          setWhere: sql`${usageCounters.count} < ${dailyLimit}`,
        })
        .returning({ count: usageCounters.count })
        .all();
      return counted.length > 0;
    },
    used,
    remaining: () => Math.max(0, dailyLimit - used()),
  };
}
