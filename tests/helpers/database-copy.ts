import { copyFileSync, existsSync } from "node:fs";

/**
 * What a SIGKILL at this instant would leave on disk: the database file and its WAL, copied as
 * they are. Opening the copy may replay the WAL; the original stays exactly what it was.
 */
export function copyWithWal(from: string, to: string): string {
  copyFileSync(from, to);
  if (existsSync(`${from}-wal`)) copyFileSync(`${from}-wal`, `${to}-wal`);
  return to;
}
