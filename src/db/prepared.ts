import type { Executor } from "./connection.ts";

interface WithSession {
  session: { client: object };
}

/**
 * A statement prepared once per SQLite connection instead of once per call: drizzle's query
 * builder re-renders the SQL and SQLite re-compiles it on every plain call, which was half of
 * a case read's CPU. The database and its transactions share one connection, so a statement
 * prepared through either runs in both, inside a transaction or not.
 */
export function preparedPerDatabase<T>(prepare: (db: Executor) => T): (db: Executor) => T {
  const byConnection = new WeakMap<object, T>();
  return (db) => {
    const connection = (db as unknown as WithSession).session.client;
    let statement = byConnection.get(connection);
    if (statement === undefined) {
      statement = prepare(db);
      byConnection.set(connection, statement);
    }
    return statement;
  };
}
