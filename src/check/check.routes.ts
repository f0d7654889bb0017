import { Elysia, t } from "elysia";
import { HistoryEntry } from "../cases/cases.schemas.ts";
import { parseReceipt } from "../cases/cases.service.ts";
import type { AuthMacro } from "../http/auth.ts";
import type { CheckService } from "./check.service.ts";

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

export function checkRoutes(auth: AuthMacro, checks: CheckService) {
  return new Elysia({ tags: ["check"] })
    .use(auth)
    .post("/v1/check", ({ body }) => checks.check(parseReceipt(body.receipt_number)), {
      access: ["partner", "user"],
      body: t.Object(
        { receipt_number: t.String({ maxLength: 100 }) },
        { additionalProperties: false },
      ),
      response: { 200: CheckResponse },
      detail: { summary: "Look a receipt up at USCIS now; stores nothing" },
    });
}
