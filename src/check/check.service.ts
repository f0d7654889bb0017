import { eq } from "drizzle-orm";
import { type Clock, toIso } from "../clock.ts";
import type { Db } from "../db/connection.ts";
import { checkCache } from "../db/schema.ts";
import { ApiError } from "../http/errors.ts";
import { lookupStatus, translateDescriptionPt } from "../uscis/catalogue.ts";
import type { CaseStatusSource, Observation } from "../uscis/types.ts";

/** A live answer this recent is reused for the same receipt, to spare the USCIS quota. */
export const CheckCacheMs = 10 * 60 * 1000;

export type CheckService = ReturnType<typeof createCheckService>;

export function createCheckService(deps: { db: Db; clock: Clock; source: CaseStatusSource }) {
  const { db, clock, source } = deps;

  function cached(receiptNumber: string) {
    const row = db
      .select()
      .from(checkCache)
      .where(eq(checkCache.receiptNumber, receiptNumber))
      .get();
    if (!row || clock.now() - row.fetchedAt >= CheckCacheMs) return null;
    return { observation: row.answer as Observation, fetchedAt: row.fetchedAt };
  }

  function remember(observation: Observation, fetchedAt: number) {
    db.insert(checkCache)
      .values({ receiptNumber: observation.receiptNumber, answer: observation, fetchedAt })
      .onConflictDoUpdate({
        target: checkCache.receiptNumber,
        set: { answer: observation, fetchedAt },
      })
      .run();
  }

  return {
    async check(receiptNumber: string) {
      const hit = cached(receiptNumber);
      if (hit) return toCheckResponse(hit.observation, hit.fetchedAt, true);

      const result = await source.fetch(receiptNumber);
      switch (result.kind) {
        case "found": {
          const now = clock.now();
          remember(result.observation, now);
          return toCheckResponse(result.observation, now, false);
        }
        case "not_found":
          throw new ApiError("not_found", "USCIS does not recognise this receipt number");
        case "invalid_receipt":
          throw new ApiError("invalid_receipt_number", "USCIS says the receipt is malformed", [
            { field: "receipt_number", issue: "format" },
          ]);
        case "rate_limited":
        case "unavailable":
          throw new ApiError(
            "upstream_unavailable",
            "USCIS cannot be reached right now; try again later",
            undefined,
            { "retry-after": "60" },
          );
      }
    },
  };
}

export function toCheckResponse(observation: Observation, checkedAt: number, isCached: boolean) {
  const status = lookupStatus(observation.statusTitle);
  return {
    receipt_number: observation.receiptNumber,
    form_type: observation.formType,
    category: status.category,
    status_code: observation.statusTitle,
    status_description: observation.statusDescription,
    status_code_es: observation.statusTitleEs,
    status_description_es: observation.statusDescriptionEs,
    status_code_pt: status.titlePt ?? observation.statusTitle,
    status_description_pt:
      translateDescriptionPt(observation.statusDescription) ?? observation.statusDescription,
    submitted_date: toIso(observation.submittedAt),
    modified_date: toIso(observation.modifiedAt),
    history: observation.history.map((entry) => ({
      date: entry.date,
      description: entry.description,
      description_es: entry.descriptionEs,
      description_pt: translateDescriptionPt(entry.description) ?? entry.description,
    })),
    checked_at: toIso(checkedAt)!,
    cached: isCached,
  };
}
