import { Elysia } from "elysia";
import { parseReceipt } from "../cases/cases.service.ts";
import type { AuthMacro } from "../http/auth.ts";
import { CheckRequest, CheckResponse } from "./check.schemas.ts";
import type { CheckService } from "./check.service.ts";

export function checkRoutes(auth: AuthMacro, checks: CheckService) {
  return new Elysia({ tags: ["check"] })
    .use(auth)
    .post("/v1/check", ({ body }) => checks.check(parseReceipt(body.receipt_number)), {
      access: ["partner", "user"],
      body: CheckRequest,
      response: { 200: CheckResponse },
      detail: { summary: "Look a receipt up at USCIS now; stores nothing" },
    });
}
