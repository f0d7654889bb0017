import { accessSync, constants, existsSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { DatabaseInUseError } from "../db/instance-lock.ts";

/**
 * Start-up failures told as README promises: the setting, its value and what to do. SQLite and
 * Bun say "unable to open database file" or "ENOENT ... listen", which names none of them.
 */
export class StartUpError extends Error {
  override name = "StartUpError";
}

const codeOf = (error: unknown) =>
  error instanceof Error ? String((error as { code?: unknown }).code ?? "") : "";

const writable = (path: string) => {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
};

/** The nearest folder on the way to `path` that exists: where a missing folder would be made. */
function nearestExisting(path: string): string {
  let current = path;
  while (!existsSync(current) && dirname(current) !== current) current = dirname(current);
  return current;
}

/**
 * Says which part of DATABASE_PATH stopped the database from opening or taking a write; any
 * other error is given back as it was.
 */
export function databaseFailure(error: unknown, databasePath: string): unknown {
  if (error instanceof DatabaseInUseError || databasePath === ":memory:") return error;
  const code = codeOf(error);
  const fileSystem = /^(EACCES|EPERM|EROFS|ENOTDIR|EISDIR|EEXIST)$/.test(code);
  if (!fileSystem && !/^SQLITE_(CANTOPEN|READONLY|PERM|AUTH)/.test(code)) return error;

  const path = resolve(databasePath);
  const folder = dirname(path);
  const said = `DATABASE_PATH=${databasePath}`;
  const elsewhere = "or point DATABASE_PATH at a file in a folder this user can write";
  if (existsSync(path) && statSync(path).isDirectory()) {
    return new StartUpError(
      `${said}: ${path} is a folder, not a database file; point DATABASE_PATH at a file, ` +
        `e.g. ${join(path, "immigraflow.db")}`,
    );
  }
  const existing = nearestExisting(folder);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    const what = statSync(existing).isDirectory() ? "read-only" : "not a folder";
    return new StartUpError(
      `${said}: cannot create the folder ${folder}: ${existing} is ${what}; create the folder ` +
        `yourself, writable for this user, ${elsewhere}`,
    );
  }
  if (!writable(folder)) {
    return new StartUpError(
      `${said}: the folder ${folder} is read-only for this user; serve cannot run there, since ` +
        `it writes the database's -wal and -shm files and its instance lock ` +
        `${basename(path)}.lock beside the file: make the folder writable ${elsewhere}`,
    );
  }
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}.lock`]) {
    if (existsSync(file) && !writable(file)) {
      return new StartUpError(
        `${said}: ${file} is read-only for this user; make it writable (chmod u+w, or chown ` +
          `it to this user) ${elsewhere}`,
      );
    }
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new StartUpError(
    `${said}: cannot open ${path} for writing (${reason}); check the file and its folder ` +
      `are writable for this user, ${elsewhere}`,
  );
}

/** Says whether HOST or PORT stopped the server from listening; others are given back. */
export function listenFailure(error: unknown, host: string, port: number): unknown {
  const code = codeOf(error);
  const at = `HOST=${host} PORT=${port}`;
  switch (code) {
    case "EADDRINUSE":
      return new StartUpError(
        `${at}: port ${port} is already in use on ${host}; stop what holds it or choose ` +
          "another PORT (0 picks a free one)",
      );
    case "EACCES":
    case "EPERM":
      return new StartUpError(
        `${at}: this user may not listen on port ${port}; ports below 1024 need privileges, ` +
          "so choose a PORT from 1024 (and a proxy in front for 80 or 443)",
      );
    case "ENOENT":
    case "EADDRNOTAVAIL":
    case "EAI_NONAME":
    case "EINVAL":
      return new StartUpError(
        `${at}: cannot listen on ${host}: it is not an address of this machine or a name it ` +
          "resolves; use 0.0.0.0 (every IPv4 address), :: (every address), 127.0.0.1 or an " +
          "address of one of its interfaces",
      );
    default:
      return error;
  }
}
