import { t } from "elysia";
import { IdParam } from "../http/ids.ts";
import { integer, oneOf, plainText } from "../http/schema.ts";
import { User } from "../users/users.schemas.ts";

const Timestamp = t.String({ examples: ["2026-05-04T13:02:11.000Z"] });

const CaseFields = {
  id: integer(),
  user_case_id: t.String({ examples: ["FLOW1234567"] }),
  receipt_number: t.String({ examples: ["IOE0912345678"] }),
  description: t.Nullable(t.String()),
  created_at: Timestamp,
  last_checked: t.Nullable(Timestamp),
  active: t.Boolean(),
};

export const Case = t.Object({ ...CaseFields, user: User });

export const CaseSummary = t.Object({
  ...CaseFields,
  form_type: t.Nullable(t.String()),
  status_code: t.Nullable(t.String()),
  status_category: t.Nullable(t.String()),
  status_updated_at: t.Nullable(Timestamp),
  update_count: integer(),
  check_error: t.Nullable(t.String()),
});

export const HistoryEntry = t.Object({
  date: t.String(),
  description: t.String(),
  description_es: t.Nullable(t.String()),
  description_pt: t.String(),
});

const NotifyStatus = oneOf(["pending", "sent", "failed", "skipped"]);

export const StatusUpdate = t.Object({
  id: integer(),
  kind: oneOf(["initial", "status_changed", "record_updated"]),
  category: t.String(),
  status_code: t.String(),
  status_description: t.String(),
  status_code_es: t.Nullable(t.String()),
  status_description_es: t.Nullable(t.String()),
  status_code_pt: t.String(),
  status_description_pt: t.String(),
  form_type: t.Nullable(t.String()),
  detail_message: t.String(),
  submitted_date: t.Nullable(Timestamp),
  modified_date: t.Nullable(Timestamp),
  history: t.Array(HistoryEntry),
  timestamp: Timestamp,
  notified: integer(),
  email_notify_status: NotifyStatus,
  whatsapp_notify_status: NotifyStatus,
  email_notify_attempts: integer(),
  whatsapp_notify_attempts: integer(),
  email_notify_last_error: t.Nullable(t.String()),
  whatsapp_notify_last_error: t.Nullable(t.String()),
  email_notify_sent_at: t.Nullable(Timestamp),
  whatsapp_notify_sent_at: t.Nullable(Timestamp),
});

export const CaseDetailsResponse = t.Object({
  case: Case,
  status_updates: t.Array(StatusUpdate),
  update_count: integer(),
});

export const CaseList = t.Object({
  cases: t.Array(CaseSummary),
  next_cursor: t.Nullable(t.String()),
});

export const CaseCreateRequest = t.Object(
  {
    // Any string: the service normalises it and answers invalid_receipt_number itself.
    receipt_number: t.String({ maxLength: 100, examples: ["EAC-15-123-45678"] }),
    description: t.Optional(t.Nullable(plainText({ maxLength: 200 }))),
  },
  { additionalProperties: false },
);

export const CaseUpdateRequest = t.Object(
  {
    description: t.Optional(t.Nullable(plainText({ maxLength: 200 }))),
    active: t.Optional(t.Boolean()),
  },
  { additionalProperties: false },
);

export const CaseParams = t.Object({
  user_id: IdParam,
  case_ref: t.String({ maxLength: 32 }),
});

export type CaseDetails = typeof CaseDetailsResponse.static;
export type CaseCreateInput = typeof CaseCreateRequest.static;
export type CaseUpdateInput = typeof CaseUpdateRequest.static;
