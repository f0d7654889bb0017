import { t } from "elysia";
import { HistoryEntry } from "../cases/cases.schemas.ts";

export const CheckRequest = t.Object(
  { receipt_number: t.String({ maxLength: 100 }) },
  { additionalProperties: false },
);

export const CheckResponse = t.Object({
  receipt_number: t.String(),
  form_type: t.Nullable(t.String()),
  category: t.String(),
  status_code: t.String(),
  status_description: t.String(),
  status_code_es: t.Nullable(t.String()),
  status_description_es: t.Nullable(t.String()),
  status_code_pt: t.String(),
  status_description_pt: t.String(),
  submitted_date: t.Nullable(t.String()),
  modified_date: t.Nullable(t.String()),
  history: t.Array(HistoryEntry),
  checked_at: t.String(),
  cached: t.Boolean(),
});
