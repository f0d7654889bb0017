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
  const db = drizzle(sqlite, { schema });
  return { sqlite, db, close: () => sqlite.close() };
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
