import type { HistoryEntry, Observation } from "../uscis/types.ts";

/** One line of status_updates.history, in the shape the API serves it. */
export interface StoredHistoryEntry {
  /** YYYY-MM-DD */
  date: string;
  description: string;
  description_es: string | null;
  description_pt: string;
}

/** What a case's record looks like after an observation, in the terms we compare. */
export interface CaseRecord {
  title: string;
  description: string;
  submittedAt: number | null;
  modifiedAt: number | null;
  history: StoredHistoryEntry[];
}

export type ChangeKind = "initial" | "status_changed" | "record_updated";

export interface Change {
  kind: ChangeKind;
  detailMessage: string;
}

const NamedEntities: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: " ",
};

function decodeEntity(whole: string, name: string): string {
  const lower = name.toLowerCase();
  if (lower.startsWith("#x")) return String.fromCodePoint(Number.parseInt(lower.slice(2), 16));
  if (lower.startsWith("#")) return String.fromCodePoint(Number.parseInt(lower.slice(1), 10));
  return NamedEntities[lower] ?? whole;
}

/**
 * A tag, an entity, whitespace other than a space (JavaScript's \s, spelt out), or two spaces
 * in a row; with a space at either end, all that cleaning could change. One character class
 * and one literal: the alternation of anchored \s tests it replaces cost four times as much on
 * a USCIS paragraph, and the checker cleans some thirty of those per answer.
 */
const NeedsCleaning = /[<&\t-\r\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]| {2}/;
const Space = 32;

/**
 * The text USCIS meant, whatever markup carried it. Sources already clean their answers, but
 * USCIS has wrapped the same sentence in links and entities on one day and not the next, and a
 * reformatting must never reach anybody as a change. Block tags separate words; inline tags
 * (a link around "our website") sit inside a sentence and vanish.
 */
export function cleanText(text: string): string {
  // Most text is clean already; this test is far cheaper than the four passes below.
  const clean =
    text.charCodeAt(0) !== Space &&
    text.charCodeAt(text.length - 1) !== Space &&
    !NeedsCleaning.test(text);
  if (clean) return text;
  return text
    .replace(/<\s*\/?\s*(br|p|div|li|ul|ol|tr|td)\b[^>]*>/gi, " ")
    .replace(/<[^>]*>/g, "")
    .replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]+);/gi, decodeEntity)
    .replace(/\s+/g, " ")
    .trim();
}

/** USCIS capitalises the same title differently ("Request for" / "Request For"). */
function titleKey(title: string): string {
  return cleanText(title).toLowerCase();
}

function historyKey(entry: { date: string; description: string }): string {
  return keyOf(entry.date, cleanText(entry.description));
}

function keyOf(date: string, cleanDescription: string): string {
  return `${date}|${cleanDescription.toLowerCase()}`;
}

/** Reads a stored history back, tolerating rows written before the shape settled. */
export function readHistory(value: unknown): StoredHistoryEntry[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (entry): entry is StoredHistoryEntry =>
      typeof entry === "object" &&
      entry !== null &&
      typeof entry.date === "string" &&
      typeof entry.description === "string",
  );
}

/**
 * The union of what we had and what USCIS sent now, oldest first. USCIS sometimes answers with
 * a shorter history (or none) for the same case; that answer is thinner, not truer, so an
 * entry once seen is kept. A fresh copy of a known entry wins, since it may carry Spanish the
 * old one lacked.
 */
export function mergeHistory(
  previous: StoredHistoryEntry[],
  incoming: HistoryEntry[],
  translatePt: (descriptionEn: string) => string | null,
): { history: StoredHistoryEntry[]; added: number } {
  const byKey = new Map<string, StoredHistoryEntry>();
  for (const entry of previous) byKey.set(historyKey(entry), entry);

  let added = 0;
  for (const entry of incoming) {
    const description = cleanText(entry.description);
    const key = keyOf(entry.date, description);
    const known = byKey.get(key);
    if (!known) added += 1;
    byKey.set(key, {
      date: entry.date,
      description,
      description_es: entry.descriptionEs ?? known?.description_es ?? null,
      description_pt: translatePt(description) ?? description,
    });
  }

  // Array.prototype.sort is stable, so entries of one day keep the order USCIS gave them.
  const history = [...byKey.values()].sort((a, b) => a.date.localeCompare(b.date));
  return { history, added };
}

/**
 * How the record after this observation differs from the one the case last stored, or null
 * when it does not. The title decides between a status change and a record update.
 */
export function classifyChange(
  previous: CaseRecord | null,
  next: CaseRecord,
  addedHistory: number,
): Change | null {
  if (!previous) {
    return { kind: "initial", detailMessage: `Now watching; current status "${next.title}"` };
  }

  if (titleKey(previous.title) !== titleKey(next.title)) {
    return {
      kind: "status_changed",
      detailMessage: `Status changed from "${previous.title}" to "${next.title}"`,
    };
  }

  const changes: string[] = [];
  if (previous.submittedAt !== next.submittedAt) changes.push("submitted date changed");
  if (previous.modifiedAt !== next.modifiedAt) changes.push("modified date changed");
  if (addedHistory > 0) {
    changes.push(`${addedHistory} new history ${addedHistory === 1 ? "entry" : "entries"}`);
  }
  if (cleanText(previous.description) !== cleanText(next.description)) {
    changes.push("description changed");
  }
  if (changes.length === 0) return null;
  return { kind: "record_updated", detailMessage: `Record updated: ${changes.join(", ")}` };
}

/**
 * Bumped whenever cleanText or what classifyChange compares changes meaning, so digests taken
 * under the old rules stop matching and every case is compared in full once more.
 */
const DigestVersion = "1";

/**
 * A fingerprint of an answer in the terms change detection sees it: texts cleaned as
 * classifyChange cleans them (so markup and spacing do not count), everything else as given,
 * history in the order it came. Two answers with one digest compare equal against any record,
 * so a case whose last update already covers this digest has nothing to learn from it; the
 * converse need not hold (a thinner history has a digest of its own and is compared in full).
 * SHA-256, so that equal digests mean equal answers and not a lucky collision.
 */
export function observationDigest(observation: Observation): string {
  const canonical = JSON.stringify([
    DigestVersion,
    observation.formType,
    cleanText(observation.statusTitle),
    cleanText(observation.statusDescription),
    observation.statusTitleEs,
    observation.statusDescriptionEs,
    observation.submittedAt,
    observation.modifiedAt,
    observation.history.map((entry) => [
      entry.date,
      cleanText(entry.description),
      entry.descriptionEs,
    ]),
  ]);
  return Bun.SHA256.hash(canonical, "base64") as string;
}
