import { readHistory } from "../checker/observation.ts";
import { toIso } from "../clock.ts";
import { toUser } from "../users/users.mapper.ts";
import type { UserRow } from "../users/users.queries.ts";
import type {
  CaseRow,
  CaseSummaryRow,
  StatusUpdateRow,
  StoredStatusUpdateRow,
} from "./cases.queries.ts";

function caseFields(row: CaseRow, lastChecked: number | null) {
  return {
    id: row.id,
    user_case_id: row.userCaseId,
    receipt_number: row.receiptNumber,
    description: row.description,
    created_at: toIso(row.createdAt)!,
    last_checked: toIso(lastChecked),
    active: row.active,
  };
}

export function toCase(row: CaseRow, lastChecked: number | null, user: UserRow) {
  return { ...caseFields(row, lastChecked), user: toUser(user) };
}

export function toCaseSummary(row: CaseSummaryRow) {
  return {
    ...caseFields(row.case, row.lastChecked),
    form_type: row.formType,
    status_code: row.statusCode,
    status_category: row.statusCategory,
    status_updated_at: toIso(row.statusUpdatedAt),
    update_count: row.updateCount,
    check_error: row.case.checkError,
  };
}

/** The checker stores history in the served shape (snake_case), translations included. */
export function toHistory(history: unknown) {
  return readHistory(history).map((entry) => ({
    date: entry.date,
    description: entry.description,
    description_es: entry.description_es ?? null,
    description_pt: entry.description_pt ?? entry.description,
  }));
}

/** The observation itself, without who was told what: what webhooks and /check also carry. */
export function toObservedStatus(row: StatusUpdateRow) {
  return {
    id: row.id,
    kind: row.kind,
    category: row.category,
    status_code: row.statusCode,
    status_description: row.statusDescription,
    status_code_es: row.statusCodeEs,
    status_description_es: row.statusDescriptionEs,
    status_code_pt: row.statusCodePt,
    status_description_pt: row.statusDescriptionPt,
    form_type: row.formType,
    detail_message: row.detailMessage,
    submitted_date: toIso(row.submittedDate),
    modified_date: toIso(row.modifiedDate),
    history: toHistory(row.history),
    timestamp: toIso(row.timestamp)!,
  };
}

export function toStatusUpdate(row: StatusUpdateRow) {
  return {
    ...toObservedStatus(row),
    notified: row.notified,
    email_notify_status: row.emailNotifyStatus,
    whatsapp_notify_status: row.whatsappNotifyStatus,
    email_notify_attempts: row.emailNotifyAttempts,
    whatsapp_notify_attempts: row.whatsappNotifyAttempts,
    email_notify_last_error: row.emailNotifyLastError,
    whatsapp_notify_last_error: row.whatsappNotifyLastError,
    email_notify_sent_at: toIso(row.emailNotifySentAt),
    whatsapp_notify_sent_at: toIso(row.whatsappNotifySentAt),
  };
}

const EmptyHistory = '"history":[]';
const utf8 = new TextEncoder();

/**
 * Where case bodies are put together. The response copies its body in (Response, like
 * JSON.parse, is done with the bytes before `use` returns), so a fresh buffer a read would be
 * another 100 KB of garbage each time. Bodies past ScratchKeptBytes get a buffer of their own
 * rather than keeping that much memory for good.
 */
let scratch = Buffer.allocUnsafe(128 * 1024);
let scratchInUse = false;
const ScratchKeptBytes = 1024 * 1024;

function bodyBuffer(size: number): Buffer {
  if (scratchInUse || size > ScratchKeptBytes) return Buffer.allocUnsafe(size);
  if (scratch.length < size) scratch = Buffer.allocUnsafe(size);
  return scratch;
}

/**
 * The body of a case read (CaseDetailsResponse) as UTF-8 JSON, each status update's stored
 * history spliced in as the bytes SQLite holds, handed to `use`. The checker's mergeHistory is
 * the only writer of that column and writes the served shape, so parsing it to serialise it
 * again (a third of a case read's CPU), or even decoding it into a string to encode it again
 * for the socket, is work for nothing. The other fields go through toCase and toStatusUpdate,
 * so the object and the text forms say the same; tests hold them to each other.
 *
 * The bytes are valid only until `use` returns: they may sit in a buffer the next body reuses.
 */
export function caseDetailsJson<T>(
  row: CaseRow,
  lastChecked: number | null,
  user: UserRow,
  updates: StoredStatusUpdateRow[],
  use: (body: Uint8Array) => T,
): T {
  // Text around the histories: texts[i] goes before histories[i], the last one after them.
  const texts: string[] = [];
  let text = `{"case":${JSON.stringify(toCase(row, lastChecked, user))},"status_updates":[`;
  updates.forEach((update, index) => {
    // Stored bytes are no history readHistory accepts, so the object form has it empty.
    const fields = JSON.stringify(toStatusUpdate(update));
    // Every string value has its quotes escaped, so the first unescaped match is the key.
    const slot = fields.indexOf(EmptyHistory);
    if (slot < 0) throw new Error("a status update's history was not left empty to splice");
    texts.push(`${text}${index > 0 ? "," : ""}${fields.slice(0, slot)}"history":`);
    text = fields.slice(slot + EmptyHistory.length);
  });
  texts.push(`${text}],"update_count":${updates.length}}`);

  // A UTF-16 code unit never takes more than 3 bytes of UTF-8, so this always fits.
  let size = 0;
  for (const piece of texts) size += piece.length * 3;
  for (const update of updates) size += update.history.length;
  const body = bodyBuffer(size);
  let at = 0;
  texts.forEach((piece, index) => {
    at += utf8.encodeInto(piece, body.subarray(at)).written;
    const history = updates[index]?.history;
    if (history) {
      body.set(history, at);
      at += history.length;
    }
  });
  if (body !== scratch) return use(body.subarray(0, at));
  scratchInUse = true;
  try {
    return use(body.subarray(0, at));
  } finally {
    scratchInUse = false;
  }
}
