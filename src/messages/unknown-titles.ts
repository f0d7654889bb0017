import type { Logger } from "../logger.ts";
import { foldTitle } from "../uscis/catalogue.ts";

/** All a report needs of a logger, so tests can pass a plain collector. */
export type UnknownTitleLogger = Pick<Logger, "warn">;

// A title USCIS sends that the catalogue lacks still reaches people (in English, filed by
// keyword), but the catalogue should learn it. One line per title per process is enough to
// notice it without repeating it on every message; titles are folded the way the catalogue
// compares them, so "Request for" and "Request For" count as one.
const reported = new Set<string>();

// Bounds the memory a misbehaving source could take by sending endless made-up titles.
const MaxReported = 500;

/** USCIS titles are short; anything longer is cut in the log line. */
const MaxLoggedLength = 200;

/**
 * Logs `{ title }` "unknown USCIS status title" the first time this process meets the title.
 * Answers whether it logged.
 */
export function reportUnknownTitle(logger: UnknownTitleLogger, title: string): boolean {
  const key = foldTitle(title);
  if (key === "" || reported.has(key) || reported.size >= MaxReported) return false;

  reported.add(key);
  logger.warn({ title: title.slice(0, MaxLoggedLength) }, "unknown USCIS status title");
  return true;
}

/** Forgets what was reported, so each test starts as a fresh process would. */
export function resetUnknownTitles(): void {
  reported.clear();
}
