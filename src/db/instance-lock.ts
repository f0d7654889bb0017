import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, realpathSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** Thrown when another `serve` already holds the database. */
export class DatabaseInUseError extends Error {
  constructor(readonly databasePath: string) {
    super(
      `another ImmigraFlow process is serving ${databasePath}; ` +
        "run one `serve` per database file (the CLI's other commands may run beside it)",
    );
    this.name = "DatabaseInUseError";
  }
}

export interface InstanceLock {
  release(): void;
}

/**
 * One `serve` per database file: two would run the checker twice over and, at start-up, hand
 * back each other's outbox leases. The lock is an exclusive SQLite lock on a small file beside
 * the database, so the operating system drops it with the process, a SIGKILL included: a
 * restart never waits for a stale lock to expire.
 */
export function acquireInstanceLock(databasePath: string): InstanceLock {
  if (databasePath === ":memory:") return { release() {} };
  const lock = new Database(`${canonicalPath(databasePath)}.lock`, { create: true });
  try {
    lock.run("PRAGMA busy_timeout = 0");
    lock.run("PRAGMA locking_mode = EXCLUSIVE");
    // Exclusive mode keeps the lock after COMMIT, until the connection closes.
    lock.run("BEGIN EXCLUSIVE");
    // A write, so the lock held is the exclusive one, not a shared read lock.
    lock.run("CREATE TABLE IF NOT EXISTS held (since TEXT)");
    lock.run("DELETE FROM held");
    lock.run("INSERT INTO held VALUES (?)", [new Date().toISOString()]);
    lock.run("COMMIT");
  } catch (error) {
    lock.close();
    if (error instanceof Error && /locked|busy/i.test(error.message)) {
      throw new DatabaseInUseError(databasePath);
    }
    throw error;
  }
  return { release: () => lock.close() };
}

/**
 * The database file's one true name, so a symlink or a second spelling of the path meets the
 * same lock. The folder is created here, as openDatabase would create it.
 */
function canonicalPath(databasePath: string): string {
  if (existsSync(databasePath)) return realpathSync(databasePath);
  const folder = dirname(databasePath);
  mkdirSync(folder, { recursive: true });
  return join(realpathSync(folder), basename(databasePath));
}
