import type { Clock } from "../clock.ts";
import type { Db } from "../db/connection.ts";
import { type OutboxJobRow, outcomeStatements } from "./outbox.queries.ts";
import { recordOutcomeIn } from "./outbox.ts";
import type { DeliveryResult } from "./types.ts";

/**
 * Outcomes of delivery attempts, committed several at a time. A commit is a durable write
 * (synchronous=FULL), and one per job was most of what a delivery cost.
 *
 * Waiting to be written changes nothing a crash can do: an e-mail whose outcome was not yet
 * committed is sent again with its Idempotency-Key, which Resend answers without a second
 * e-mail; a WhatsApp job had its start committed before its request left, so it is looked for
 * at Twilio as it would have been had the crash come a moment earlier. A channel's next claim
 * happens only after every outcome of its run is committed, so a user's later message never
 * overtakes an earlier one. The channels' runs share the commits.
 */
export interface GroupedOutcomes {
  /** Queues an outcome; settles once it is committed (at the latest after `windowMs`). */
  record(job: OutboxJobRow, result: DeliveryResult): Promise<OutboxJobRow>;
  /**
   * Commits, before returning, that these jobs' requests are about to leave, together with
   * every outcome queued so far, and returns the start written. Throws when that cannot be
   * written: the requests must not go then.
   */
  markSendStarted(jobIds: number[]): number;
  /** Commits every queued outcome now. */
  flush(): void;
}

interface Entry {
  job: OutboxJobRow;
  result: DeliveryResult;
  at: number;
  resolve(row: OutboxJobRow): void;
  reject(error: unknown): void;
}

export function createGroupedOutcomes(options: {
  db: Db;
  clock: Clock;
  /** The longest an outcome waits for company before it is committed alone. */
  windowMs: number;
}): GroupedOutcomes {
  const { db, clock } = options;
  const statements = outcomeStatements(db);
  let queue: Entry[] = [];
  let timer: ReturnType<typeof setTimeout> | null = null;

  function take(): Entry[] {
    if (timer) clearTimeout(timer);
    timer = null;
    const taken = queue;
    queue = [];
    return taken;
  }

  function writeOne(entry: Entry) {
    try {
      entry.resolve(
        db.transaction((tx) => recordOutcomeIn(tx, statements, entry.job, entry.result, entry.at)),
      );
    } catch (error) {
      entry.reject(error);
    }
  }

  /** One commit for all; should it fail, each outcome is tried alone so one cannot sink all. */
  function write(entries: Entry[], started?: { jobIds: number[]; at: number }) {
    if (entries.length === 0 && !started) return;
    let rows: OutboxJobRow[];
    try {
      rows = db.transaction((tx) => {
        const written = entries.map((e) => recordOutcomeIn(tx, statements, e.job, e.result, e.at));
        for (const id of started?.jobIds ?? []) statements.sendStarted.run({ id, at: started!.at });
        return written;
      });
    } catch (error) {
      if (entries.length === 0) throw error;
      for (const entry of entries) writeOne(entry);
      if (started) {
        db.transaction(() => {
          for (const id of started.jobIds) statements.sendStarted.run({ id, at: started.at });
        });
      }
      return;
    }
    for (const [index, entry] of entries.entries()) entry.resolve(rows[index]!);
  }

  return {
    record(job, result) {
      return new Promise((resolve, reject) => {
        queue.push({ job, result, at: clock.now(), resolve, reject });
        if (!timer) {
          timer = setTimeout(() => write(take()), options.windowMs);
        }
      });
    },
    markSendStarted(jobIds) {
      const at = clock.now();
      write(take(), { jobIds, at });
      return at;
    },
    flush() {
      write(take());
    },
  };
}
