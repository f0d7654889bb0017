import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { type BunSQLiteDatabase, drizzle } from "drizzle-orm/bun-sqlite";
import type { MigrationMeta } from "drizzle-orm/migrator";
import type { BaseSQLiteDatabase } from "drizzle-orm/sqlite-core";
import { embeddedMigrations } from "./migrations.macro.ts" with { type: "macro" };
import * as schema from "./schema.ts";

export type Db = BunSQLiteDatabase<typeof schema>;

/** The database or a transaction on it: queries take either, so callers choose the scope. */
export type Executor = BaseSQLiteDatabase<"sync", void, typeof schema>;

export interface DatabaseHandle {
  sqlite: Database;
  db: Db;
  close(): void;
}

export function openDatabase(path: string): DatabaseHandle {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path, { create: true, strict: true });
  sqlite.exec("PRAGMA journal_mode = WAL");
  sqlite.exec("PRAGMA foreign_keys = ON");
  sqlite.exec("PRAGMA busy_timeout = 5000");
  sqlite.exec("PRAGMA synchronous = FULL");
  const db = withImmediateTransactions(drizzle(sqlite, { schema }));
  return { sqlite, db, close: () => sqlite.close() };
}

/**
 * Every transaction here writes, and most read first. A deferred one asks for the write lock
 * only at its first write, and SQLite refuses that upgrade at once, without waiting out
 * busy_timeout, while another process (a CLI command on the live file) holds the lock. Taking
 * the lock at BEGIN makes the wait apply.
 */
function withImmediateTransactions(db: Db): Db {
  const begin = db.transaction.bind(db);
  db.transaction = (run, config) => begin(run, { behavior: "immediate", ...config });
  return db;
}

/** SQLite conditions in which the database cannot take a write now; see storageFailure. */
const UnavailableCodes = [
  "SQLITE_BUSY",
  "SQLITE_LOCKED",
  "SQLITE_READONLY",
  "SQLITE_FULL",
  "SQLITE_IOERR",
];

/**
 * The SQLite code (extended codes included, e.g. SQLITE_IOERR_WRITE) when an error, or one of
 * its causes, says the database cannot store anything right now: held by another writer,
 * read-only, full, or failing underneath. Null for anything else, such as a constraint.
 */
export function storageFailure(error: unknown): string | null {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth += 1) {
    const code: unknown = (current as { code?: unknown }).code;
    if (typeof code === "string") {
      const unavailable = UnavailableCodes.some((c) => code === c || code.startsWith(`${c}_`));
      if (unavailable) return code;
    }
    current = current.cause;
  }
  return null;
}

interface MigratableDb {
  dialect: { migrate(migrations: MigrationMeta[], session: unknown, config: object): void };
  session: unknown;
}

/** Applies the migrations embedded at build time; already-applied ones are skipped. */
export function migrate(handle: DatabaseHandle): number {
  const migrations = embeddedMigrations() as MigrationMeta[];
  const before = appliedCount(handle.sqlite);
  // drizzle-kit's own migrator reads a folder at run time; the executable has none, so the
  // embedded list goes straight to the dialect, which is what that migrator does itself.
  const target = handle.db as unknown as MigratableDb;
  target.dialect.migrate(migrations, target.session, {});
  return appliedCount(handle.sqlite) - before;
}

function appliedCount(sqlite: Database): number {
  const table = sqlite
    .query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'")
    .get();
  if (!table) return 0;
  const row = sqlite.query("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number };
  return row.n;
}
