import { eq, sql } from "drizzle-orm";
import type { Db, Executor } from "../db/connection.ts";
import { clients } from "../db/schema.ts";
import type { Logger } from "../logger.ts";

/**
 * Writes for the flows that must answer alike for known and unknown addresses (sign-in codes,
 * wrong guesses, verification resends).
 *
 * A commit waits for the disk, a millisecond or more. Done before answering, it shows in that
 * answer's time; done after answering only for known addresses, it holds up whatever the
 * process answers next, which a caller can time just as well. So every such request runs its
 * write after the answer, and one with nothing to store runs the same write for a stand-in (a
 * user id no row has) inside a savepoint that is rolled back. SQLite still writes the pages the
 * savepoint touched when the transaction commits, so both cost the same statements, the same
 * pages and the same sync. Foreign keys are checked at commit meanwhile, when the stand-in's
 * rows are already gone; the real writes are held to them all the same.
 */
export type AfterAnswer = (
  context: { failure: string; clientId: number; userId?: number },
  write: (tx: Executor) => void,
  keep: boolean,
) => void;

class StandInDone extends Error {}

export function createAfterAnswer(db: Db, logger: Logger): AfterAnswer {
  return ({ failure, clientId, userId }, write, keep) => {
    setImmediate(() => {
      try {
        db.transaction((tx) => {
          tx.run(sql`PRAGMA defer_foreign_keys = ON`);
          if (keep) return write(tx);
          try {
            tx.transaction((savepoint) => {
              write(savepoint);
              throw new StandInDone();
            });
          } catch (error) {
            if (!(error instanceof StandInDone)) throw error;
          }
        });
      } catch (err) {
        logger.error({ err, client_id: clientId, user_id: userId }, failure);
      }
    });
  };
}

/**
 * A write of one page for a failure that has no row of its own to write, such as a wrong code
 * for an address without one: the partner's `updated_at` moves by a millisecond. Only ever run
 * as a stand-in, so it is rolled back.
 */
export function touchPartner(tx: Executor, clientId: number): void {
  tx.update(clients)
    .set({ updatedAt: sql`${clients.updatedAt} + 1` })
    .where(eq(clients.id, clientId))
    .run();
}
