import type { Database } from "bun:sqlite";
import { sql } from "drizzle-orm";
import type { Executor } from "./connection.ts";

/**
 * Statements the hot paths (the checker's writes, the outbox's inserts) run thousands of times
 * a second. Drizzle builds a query's SQL and has SQLite compile it on every call, which costs
 * far more than running it; a query prepared with placeholders skips both.
 *
 * Kept per connection: a transaction shares its database's session (one bun:sqlite handle),
 * so a statement prepared once serves the database and every transaction on it, and a new
 * database (a test's, a restart's) gets statements of its own.
 */
const bySession = new WeakMap<object, Map<unknown, unknown>>();

export function prepared<T>(db: Executor, build: (db: Executor) => T): T {
  // Drizzle keeps the session internal; transactions hand it down unchanged.
  const session = (db as unknown as { session: object }).session;
  let statements = bySession.get(session);
  if (!statements) {
    statements = new Map();
    bySession.set(session, statements);
  }
  let statement = statements.get(build) as T | undefined;
  if (statement === undefined) {
    statement = build(db);
    statements.set(build, statement);
  }
  return statement;
}

/** The cache of `prepared`, bound to one statement, for module-level constants. */
export function preparedPerDatabase<T>(build: (db: Executor) => T): (db: Executor) => T {
  return (db) => prepared(db, build);
}

/**
 * Placeholders for an UPDATE's SET, one per column named. Drizzle encodes them as it encodes
 * values (booleans as 0/1, JSON columns stringified), though its types admit only values there.
 */
export function setPlaceholders<K extends string>(...names: K[]): Record<K, never> {
  return Object.fromEntries(names.map((name) => [name, sql.placeholder(name)])) as Record<K, never>;
}

/**
 * Runs `work` in a savepoint of the transaction `db` is in: if it throws, only its own writes
 * are taken back. What drizzle's nested transaction does, without building and compiling the
 * three statements again for each use.
 */
export function inSavepoint<T>(db: Executor, work: () => T): T {
  const client = (db as unknown as { session: { client: Database } }).session.client;
  client.query("SAVEPOINT one_of_many").run();
  try {
    const result = work();
    client.query("RELEASE one_of_many").run();
    return result;
  } catch (error) {
    client.query("ROLLBACK TO one_of_many").run();
    client.query("RELEASE one_of_many").run();
    throw error;
  }
}
