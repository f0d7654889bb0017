import type { Database } from "bun:sqlite";
import { statfsSync } from "node:fs";
import { dirname } from "node:path";
import { storageFailure } from "../db/connection.ts";

/** Why the database cannot take a write, as /health names it. */
export type WriteProblem = "read_only" | "full" | "busy" | "io_error" | "unknown";

export interface DatabaseState {
  /** Reads answer: the service can serve. */
  ok: boolean;
  /** A write would be stored now. */
  writable: boolean;
  problem?: WriteProblem;
}

/**
 * Below this much free space the disk counts as full. A rolled-back write never reaches the
 * WAL, so the probe cannot see ENOSPC itself; this is what the next commits and checkpoint
 * need, with room to spare, and an operator wants the warning before the first 503.
 */
export const LowDiskBytes = 1024 * 1024;

/**
 * Long enough for a CLI command's short write on the same file, short enough that a poll of
 * /health never waits out the service's own 5-second busy_timeout behind a stuck writer.
 */
const ProbeBusyTimeoutMs = 200;

/**
 * Whether the database reads and would take a write, without storing anything: a write to a
 * row that always exists (the migrations journal) inside an IMMEDIATE transaction that is
 * rolled back at once, which meets read-only files, `query_only` and a lock held elsewhere,
 * plus the page limit and the free space on the file's disk, which a write that is never
 * committed cannot meet. Costs tens of microseconds and holds the write lock as long.
 */
export function probeDatabase(sqlite: Database): DatabaseState {
  try {
    sqlite.query("SELECT 1").get();
  } catch {
    return { ok: false, writable: false, problem: "unknown" };
  }
  // A transaction of this connection is open only while its owner runs, never between calls.
  if (sqlite.inTransaction) return { ok: true, writable: true };

  const write = tryRolledBackWrite(sqlite);
  if (write) return { ok: true, writable: false, problem: write };
  if (outOfSpace(sqlite)) return { ok: true, writable: false, problem: "full" };
  return { ok: true, writable: true };
}

function tryRolledBackWrite(sqlite: Database): WriteProblem | null {
  const { timeout } = sqlite.query("PRAGMA busy_timeout").get() as { timeout: number };
  try {
    sqlite.run(`PRAGMA busy_timeout = ${ProbeBusyTimeoutMs}`);
    rolledBackWrite(sqlite);
    return null;
  } catch (error) {
    return problemOf(error);
  } finally {
    sqlite.run(`PRAGMA busy_timeout = ${timeout}`);
  }
}

/**
 * A write to a row that always exists once migrated (the migrations journal) in an IMMEDIATE
 * transaction rolled back at once: it stores nothing and throws whatever a real write would
 * meet (a read-only file, `query_only`, a lock held elsewhere). Start-up calls it to stop
 * before serving a database it cannot write; /health, through probeDatabase, to report it.
 */
export function rolledBackWrite(sqlite: Database): void {
  sqlite.run("BEGIN IMMEDIATE");
  try {
    sqlite.run(
      "UPDATE __drizzle_migrations SET id = id " +
        "WHERE id = (SELECT min(id) FROM __drizzle_migrations)",
    );
  } finally {
    // SQLite may have ended the transaction itself on the failure; the failure is the news.
    if (sqlite.inTransaction) sqlite.run("ROLLBACK");
  }
}

function problemOf(error: unknown): WriteProblem {
  const code = storageFailure(error) ?? "";
  if (code.startsWith("SQLITE_READONLY")) return "read_only";
  if (code.startsWith("SQLITE_FULL")) return "full";
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return "busy";
  if (code.startsWith("SQLITE_IOERR")) return "io_error";
  return "unknown";
}

function outOfSpace(sqlite: Database): boolean {
  const pragma = (name: string) => Object.values(sqlite.query(`PRAGMA ${name}`).get() ?? {})[0];
  const pages = Number(pragma("page_count"));
  if (pages >= Number(pragma("max_page_count")) && Number(pragma("freelist_count")) === 0) {
    return true;
  }
  const main = sqlite.query("PRAGMA database_list").all() as { name: string; file: string }[];
  const file = main.find((entry) => entry.name === "main")?.file;
  if (!file) return false;
  try {
    const disk = statfsSync(dirname(file));
    return disk.bavail * disk.bsize < LowDiskBytes;
  } catch {
    return false;
  }
}
