import { randomInt } from "node:crypto";
import { watchReceipt } from "../checker/receipts.queries.ts";
import type { Clock } from "../clock.ts";
import type { Db, Executor } from "../db/connection.ts";
import { ApiError, notFound } from "../http/errors.ts";
import { decodeCursor, page, pageSize } from "../http/pagination.ts";
import { normalizeReceipt } from "../uscis/receipt.ts";
import type { UserRow } from "../users/users.queries.ts";
import { emitCaseEvent } from "../webhooks/webhook-events.ts";
import { caseDetailsJson, toCaseSummary } from "./cases.mapper.ts";
import {
  type CaseRow,
  deleteCase,
  findCase,
  findCaseByReceipt,
  insertCase,
  listCaseSummaries,
  statusUpdatesOf,
  updateCase,
  userCaseIdTaken,
} from "./cases.queries.ts";
import type { CaseCreateInput, CaseDetails, CaseUpdateInput } from "./cases.schemas.ts";

export type CasesService = ReturnType<typeof createCasesService>;

const utf8 = new TextDecoder();

/** Takes a body's bytes, valid only while it runs (see caseDetailsJson). */
export type UseBody<T> = (body: Uint8Array) => T;
const parseBody = (body: Uint8Array): CaseDetails => JSON.parse(utf8.decode(body));

/** Receipts are checked, stored and compared only in the normalised 13-character form. */
export function parseReceipt(input: unknown): string {
  const result = normalizeReceipt(input);
  if (!result.ok) {
    throw new ApiError("invalid_receipt_number", result.message, [
      { field: "receipt_number", issue: result.issue },
    ]);
  }
  return result.receipt;
}

export function createCasesService(deps: { db: Db; clock: Clock }) {
  const { db, clock } = deps;

  /** A case with its history, as the UTF-8 JSON of CaseDetailsResponse, handed to `use`. */
  function details<T>(user: UserRow, row: CaseRow, lastChecked: number | null, use: UseBody<T>): T {
    return caseDetailsJson(row, lastChecked, user, statusUpdatesOf(db, row.id), use);
  }

  function mintUserCaseId(tx: Executor): string {
    for (;;) {
      const candidate = `FLOW${randomInt(10_000_000).toString().padStart(7, "0")}`;
      if (!userCaseIdTaken(tx, candidate)) return candidate;
    }
  }

  function requireCase(user: UserRow, caseRef: string) {
    const found = findCase(db, user.id, caseRef.trim());
    if (!found) throw notFound("case");
    return found;
  }

  const service = {
    list(user: UserRow, query: { active?: boolean; limit?: string; cursor?: string }) {
      const limit = pageSize(query.limit);
      const rows = listCaseSummaries(db, user.id, {
        active: query.active,
        beforeId: decodeCursor(query.cursor),
        limit,
      });
      const result = page(
        rows.map((row) => ({ ...row, id: row.case.id })),
        limit,
      );
      return { cases: result.items.map(toCaseSummary), next_cursor: result.nextCursor };
    },

    /** The new case's details as UTF-8 JSON; `create` is the same as an object. */
    createJson<T>(user: UserRow, input: CaseCreateInput, use: UseBody<T>): T {
      const receiptNumber = parseReceipt(input.receipt_number);
      const now = clock.now();
      const created = db.transaction((tx) => {
        const existing = findCaseByReceipt(tx, user.id, receiptNumber);
        if (existing) {
          throw new ApiError("conflict", "this user already watches that receipt", [
            { field: "receipt_number", issue: "duplicate", user_case_id: existing.userCaseId },
          ]);
        }
        watchReceipt(tx, receiptNumber, now);
        const inserted = insertCase(tx, {
          userId: user.id,
          clientId: user.clientId,
          receiptNumber,
          userCaseId: mintUserCaseId(tx),
          description: input.description?.trim() || null,
          createdAt: now,
          updatedAt: now,
        });
        emitCaseEvent(tx, "case.created", inserted.id, now);
        return inserted;
      });
      return details(user, created, null, use);
    },

    /** The case read, the API's most frequent call, as UTF-8 JSON ready to send. */
    getJson<T>(user: UserRow, caseRef: string, use: UseBody<T>): T {
      const found = requireCase(user, caseRef);
      return details(user, found.case, found.lastChecked, use);
    },

    /** The object forms, for routes that add to the body before sending it. */
    create(user: UserRow, input: CaseCreateInput): CaseDetails {
      return service.createJson(user, input, parseBody);
    },

    get(user: UserRow, caseRef: string): CaseDetails {
      return service.getJson(user, caseRef, parseBody);
    },

    updateJson<T>(user: UserRow, caseRef: string, input: CaseUpdateInput, use: UseBody<T>): T {
      const found = requireCase(user, caseRef);
      const reactivated = input.active === true && !found.case.active;
      const updated = db.transaction((tx) => {
        // A case switched back on is checked in the next tick, like a new one.
        if (reactivated) watchReceipt(tx, found.case.receiptNumber, clock.now());
        return updateCase(tx, found.case.id, {
          ...(input.description !== undefined
            ? { description: input.description?.trim() || null }
            : {}),
          ...(input.active !== undefined ? { active: input.active } : {}),
          updatedAt: clock.now(),
        });
      });
      return details(user, updated, found.lastChecked, use);
    },

    remove(user: UserRow, caseRef: string): void {
      const found = requireCase(user, caseRef);
      // Its status updates go with it (ON DELETE CASCADE); the checker only visits receipts
      // that some active case still watches, so this receipt stops being checked for it now.
      db.transaction((tx) => {
        // Emitted first, while the case can still be described; both commit together.
        emitCaseEvent(tx, "case.deleted", found.case.id, clock.now());
        deleteCase(tx, found.case.id);
      });
    },
  };
  return service;
}
