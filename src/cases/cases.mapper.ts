import { toIso } from "../clock.ts";
import { toUser } from "../users/users.mapper.ts";
import type { UserRow } from "../users/users.queries.ts";
import type { CaseRow, CaseSummaryRow, StatusUpdateRow } from "./cases.queries.ts";

interface StoredHistoryEntry {
  date: string;
  description: string;
  descriptionEs?: string | null;
  descriptionPt?: string | null;
}

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

export function toHistory(history: unknown) {
  const entries = Array.isArray(history) ? (history as StoredHistoryEntry[]) : [];
  return entries.map((entry) => ({
    date: entry.date,
    description: entry.description,
    description_es: entry.descriptionEs ?? null,
    description_pt: entry.descriptionPt ?? entry.description,
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
