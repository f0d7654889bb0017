import type { HistoryEntry, Observation } from "./types.ts";

/**
 * The Torch Case Status API's JSON, read liberally and written strictly (see
 * shared/uscis-torch-notes.md). Only `receiptNumber` and `current_case_status_text_en` are
 * required; everything else has been seen missing, null or in more than one shape.
 */

export type ParseResult = { ok: true; observation: Observation } | { ok: false; reason: string };

export function parseTorchBody(body: unknown): ParseResult {
  const caseStatus = isRecord(body) && isRecord(body.case_status) ? body.case_status : null;
  if (!caseStatus) return { ok: false, reason: "answer without case_status" };

  const receiptNumber = cleanText(caseStatus.receiptNumber).toUpperCase();
  const statusTitle = cleanText(caseStatus.current_case_status_text_en);
  if (!receiptNumber || !statusTitle) {
    return { ok: false, reason: "answer without receiptNumber or current_case_status_text_en" };
  }

  const observation: Observation = {
    receiptNumber,
    formType: normalizeFormType(caseStatus.formType),
    statusTitle,
    statusDescription: cleanText(caseStatus.current_case_status_desc_en),
    statusTitleEs: cleanText(caseStatus.current_case_status_text_es) || null,
    statusDescriptionEs: cleanText(caseStatus.current_case_status_desc_es) || null,
    submittedAt: parseEasternDateTime(caseStatus.submittedDate),
    modifiedAt: parseEasternDateTime(caseStatus.modifiedDate),
    history: parseHistory(caseStatus.hist_case_status),
  };
  return { ok: true, observation };
}

function parseHistory(raw: unknown): HistoryEntry[] {
  if (!Array.isArray(raw)) return [];
  const entries: HistoryEntry[] = [];
  for (const item of raw) {
    if (!isRecord(item)) continue;
    const date = parseHistoryDate(item.date);
    const description = cleanText(item.completed_text_en);
    // An entry without a date cannot be placed in the timeline; one without text says nothing.
    if (!date || !description) continue;
    entries.push({ date, description, descriptionEs: cleanText(item.completed_text_es) || null });
  }
  // Torch does not document the order; Array.prototype.sort is stable, so same-day entries
  // keep the order USCIS gave them.
  return entries.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
}

/** "N400" -> "N-400", "i130" -> "I-130", "I-129F" stays; anything else is kept as sent. */
export function normalizeFormType(raw: unknown): string | null {
  const text = cleanText(raw).toUpperCase();
  if (!text) return null;
  const match = /^([A-Z]{1,3})[\s-]?(\d{1,4}[A-Z]{0,2})$/.exec(text);
  return match ? `${match[1]}-${match[2]}` : text;
}

// ---- text ---------------------------------------------------------------------------------

const NamedEntities: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: " ",
  ensp: " ",
  emsp: " ",
  thinsp: " ",
  ndash: "–",
  mdash: "—",
  lsquo: "‘",
  rsquo: "’",
  sbquo: "‚",
  ldquo: "“",
  rdquo: "”",
  bdquo: "„",
  hellip: "…",
  bull: "•",
  middot: "·",
  copy: "©",
  reg: "®",
  trade: "™",
  sect: "§",
  para: "¶",
  deg: "°",
  shy: "",
  laquo: "«",
  raquo: "»",
  iexcl: "¡",
  iquest: "¿",
  ordf: "ª",
  ordm: "º",
  aacute: "á",
  Aacute: "Á",
  eacute: "é",
  Eacute: "É",
  iacute: "í",
  Iacute: "Í",
  oacute: "ó",
  Oacute: "Ó",
  uacute: "ú",
  Uacute: "Ú",
  agrave: "à",
  Agrave: "À",
  acirc: "â",
  Acirc: "Â",
  ecirc: "ê",
  Ecirc: "Ê",
  ocirc: "ô",
  Ocirc: "Ô",
  atilde: "ã",
  Atilde: "Ã",
  otilde: "õ",
  Otilde: "Õ",
  ntilde: "ñ",
  Ntilde: "Ñ",
  ccedil: "ç",
  Ccedil: "Ç",
  uuml: "ü",
  Uuml: "Ü",
};

/** Strips tags, decodes entities and collapses whitespace; anything not a string becomes "". */
export function cleanText(raw: unknown): string {
  if (typeof raw !== "string") return "";
  const withoutTags = raw
    .replace(/<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, " ")
    .replace(/<!--[\s\S]*?-->/g, " ")
    // Block-level tags separate words ("line<br>next"); inline ones sit inside a sentence
    // ("<a href=...>uscis.gov</a>.") and vanish without a trace.
    .replace(/<\/?(?:br|p|div|li|ul|ol|tr|td|th|table|h[1-6])\b[^>]*>/gi, " ")
    .replace(/<\/?[A-Za-z][^>]*>/g, "");
  return decodeEntities(withoutTags).replace(/\s+/g, " ").trim();
}

// Tags are removed before entities are decoded, so "&lt;b&gt;" stays visible text.
function decodeEntities(text: string): string {
  return text.replace(/&(#[xX][0-9a-fA-F]+|#\d+|[A-Za-z]+\d*);/g, (whole, name: string) => {
    if (name[0] !== "#") return NamedEntities[name] ?? whole;
    const hex = name[1] === "x" || name[1] === "X";
    const codePoint = Number.parseInt(name.slice(hex ? 2 : 1), hex ? 16 : 10);
    const valid =
      codePoint > 0 && codePoint <= 0x10ffff && !(codePoint >= 0xd800 && codePoint <= 0xdfff);
    return valid ? String.fromCodePoint(codePoint) : "\uFFFD";
  });
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// ---- dates --------------------------------------------------------------------------------

const UsEastern = "America/New_York";

interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/**
 * "09-05-2023 14:28:46" (US Eastern wall time, no zone given) -> UTC ms. Also takes
 * "09/05/2023", a missing time (midnight) and "2023-09-05 14:28:46". Unreadable -> null.
 */
export function parseEasternDateTime(raw: unknown): number | null {
  const wall = parseWallTime(raw);
  return wall ? easternToUtc(wall) : null;
}

/** History dates: "2023-09-05" or "09-05-2023 14:28:46" -> "2023-09-05" (the Eastern day). */
export function parseHistoryDate(raw: unknown): string | null {
  const wall = parseWallTime(raw);
  if (!wall) return null;
  return `${pad(wall.year, 4)}-${pad(wall.month)}-${pad(wall.day)}`;
}

function parseWallTime(raw: unknown): WallTime | null {
  if (typeof raw !== "string") return null;
  const text = raw.trim();
  const time = "(?:[ T](\\d{1,2}):(\\d{2})(?::(\\d{2}))?(?:\\.\\d+)?)?";
  const usStyle = new RegExp(`^(\\d{1,2})[-/](\\d{1,2})[-/](\\d{4})${time}$`).exec(text);
  const isoStyle = new RegExp(`^(\\d{4})-(\\d{1,2})-(\\d{1,2})${time}$`).exec(text);
  const parts = usStyle
    ? [usStyle[3], usStyle[1], usStyle[2], usStyle[4], usStyle[5], usStyle[6]]
    : isoStyle
      ? isoStyle.slice(1, 7)
      : null;
  if (!parts) return null;

  const [year, month, day, hour, minute, second] = parts.map((part) => Number(part ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const valid =
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59;
  return valid ? { year, month, day, hour, minute, second } : null;
}

const EasternFormat = new Intl.DateTimeFormat("en-US", {
  timeZone: UsEastern,
  hourCycle: "h23",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

/** The Eastern wall time at a UTC instant. */
export function utcToEastern(utcMs: number): WallTime {
  const parts: Record<string, number> = {};
  for (const part of EasternFormat.formatToParts(new Date(utcMs))) {
    if (part.type !== "literal") parts[part.type] = Number(part.value);
  }
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 0,
    day: parts.day ?? 0,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

const HourMs = 60 * 60 * 1000;
const DayMs = 24 * HourMs;

/** The UTC instant of 2 a.m. local on the `nth` Sunday of a month (0-based), at `offsetH`. */
function sundayAt2am(year: number, month: number, nth: number, offsetH: number): number {
  const first = new Date(Date.UTC(year, month, 1)).getUTCDay();
  const day = 1 + ((7 - first) % 7) + 7 * nth;
  return Date.UTC(year, month, day, 2 + offsetH);
}

/** Per year, when daylight time starts and ends, in UTC: [start, end). */
const DaylightSpans = new Map<number, [number, number]>();

/**
 * The Eastern calendar day of a UTC instant, "YYYY-MM-DD": the day USCIS would print. Since
 * 2007 daylight time runs from 2 a.m. on the second Sunday of March to 2 a.m. on the first
 * Sunday of November, which is all the arithmetic needs; the simulator asks dozens of times
 * per answer, for instants all over a story's years, where Intl costs microseconds each.
 * Earlier years go through Intl.
 */
export function easternDay(utcMs: number): string {
  const year = new Date(utcMs).getUTCFullYear();
  if (year < 2008) {
    const wall = utcToEastern(utcMs);
    return `${pad(wall.year, 4)}-${pad(wall.month)}-${pad(wall.day)}`;
  }
  let span = DaylightSpans.get(year);
  if (!span) {
    // 2 a.m. standard time (UTC-5) in March, 2 a.m. daylight time (UTC-4) in November.
    span = [sundayAt2am(year, 2, 1, 5), sundayAt2am(year, 10, 0, 4)];
    DaylightSpans.set(year, span);
  }
  const offsetH = utcMs >= span[0] && utcMs < span[1] ? 4 : 5;
  const dayNumber = Math.floor((utcMs - offsetH * HourMs) / DayMs);
  let day = EasternDays.get(dayNumber);
  if (day === undefined) {
    day = new Date(dayNumber * DayMs).toISOString().slice(0, 10);
    // Decades of days; the bound only guards against odd input.
    if (EasternDays.size >= 50_000) EasternDays.clear();
    EasternDays.set(dayNumber, day);
  }
  return day;
}

/** "YYYY-MM-DD" per day since the epoch: the same days come up again and again. */
const EasternDays = new Map<number, string>();

function wallAsUtc(wall: WallTime): number {
  return Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
}

/** Offset of Eastern time from UTC at an instant, in ms (-4 h in summer, -5 h in winter). */
function easternOffset(utcMs: number): number {
  const flooredToSecond = Math.floor(utcMs / 1000) * 1000;
  return wallAsUtc(utcToEastern(flooredToSecond)) - flooredToSecond;
}

const Day = 24 * 60 * 60 * 1000;

/**
 * Wall time -> instant without a time-zone library: try the offsets in force a day before and a
 * day after, and keep a reading that is self-consistent. In the autumn overlap (01:30 happens
 * twice) both are, and the earlier, daylight-time one wins; in the spring gap (02:30 never
 * happens) neither is, and the offset from before the gap reads it as 03:30 daylight time,
 * which is what a clock that skipped ahead would show.
 */
function easternToUtc(wall: WallTime): number {
  const naive = wallAsUtc(wall);
  const offsetBefore = easternOffset(naive - Day);
  const readings = [offsetBefore, easternOffset(naive + Day)]
    .map((offset) => naive - offset)
    .filter((instant) => naive - instant === easternOffset(instant));
  return readings.length > 0 ? Math.min(...readings) : naive - offsetBefore;
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, "0");
}

// ---- writing ------------------------------------------------------------------------------

/** UTC ms -> "MM-DD-YYYY HH:mm:ss" in Eastern time, as Torch writes it. */
export function formatEasternDateTime(utcMs: number): string {
  const wall = utcToEastern(utcMs);
  const date = `${pad(wall.month)}-${pad(wall.day)}-${pad(wall.year, 4)}`;
  return `${date} ${pad(wall.hour)}:${pad(wall.minute)}:${pad(wall.second)}`;
}

export interface TorchCaseStatus {
  receiptNumber: string;
  formType?: string;
  submittedDate?: string;
  modifiedDate?: string;
  current_case_status_text_en: string;
  current_case_status_desc_en: string;
  current_case_status_text_es?: string;
  current_case_status_desc_es?: string;
  hist_case_status:
    | { date: string; completed_text_en: string; completed_text_es?: string }[]
    | null;
}

export interface TorchBody {
  case_status: TorchCaseStatus;
  message: string;
}

/** An observation in the Torch wire format: what the simulator server and the fake send. */
export function toTorchBody(observation: Observation): TorchBody {
  const caseStatus: TorchCaseStatus = {
    receiptNumber: observation.receiptNumber,
    current_case_status_text_en: observation.statusTitle,
    current_case_status_desc_en: observation.statusDescription,
    // Torch sends null for a case without history; parseTorchBody reads null and [] alike.
    hist_case_status:
      observation.history.length === 0
        ? null
        : observation.history.map((entry) => ({
            date: entry.date,
            completed_text_en: entry.description,
            ...(entry.descriptionEs !== null && { completed_text_es: entry.descriptionEs }),
          })),
  };
  if (observation.formType !== null) caseStatus.formType = observation.formType;
  if (observation.submittedAt !== null) {
    caseStatus.submittedDate = formatEasternDateTime(observation.submittedAt);
  }
  if (observation.modifiedAt !== null) {
    caseStatus.modifiedDate = formatEasternDateTime(observation.modifiedAt);
  }
  if (observation.statusTitleEs !== null) {
    caseStatus.current_case_status_text_es = observation.statusTitleEs;
  }
  if (observation.statusDescriptionEs !== null) {
    caseStatus.current_case_status_desc_es = observation.statusDescriptionEs;
  }
  return { case_status: caseStatus, message: "Query was successful" };
}

/** The error bodies the notes document, so the fake and the simulator answer alike. */
export const TorchErrorBodies = {
  401: { code: 401, message: "Invalid Access Token" },
  404: {
    code: 404,
    message:
      "Case Status Online does not recognize the receipt number entered. Please check that " +
      "your receipt number is correct.",
  },
  422: {
    code: 422,
    message:
      "The application receipt number is not formatted correctly, it should be 3 letters " +
      "followed by 10 digits.",
  },
  429: { code: 429, message: "Spike Arrest Violation" },
  503: { code: 503, message: "Service Unavailable" },
} as const;
