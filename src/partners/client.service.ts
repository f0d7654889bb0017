import { listPartnerCaseSummaries } from "../cases/cases.queries.ts";
import type { CaseCreateInput } from "../cases/cases.schemas.ts";
import { type CasesService, parseReceipt } from "../cases/cases.service.ts";
import type { Clock } from "../clock.ts";
import type { Db } from "../db/connection.ts";
import { ApiError, notFound } from "../http/errors.ts";
import { decodeCursor, page, pageSize } from "../http/pagination.ts";
import { toUser } from "../users/users.mapper.ts";
import type { UsersService } from "../users/users.service.ts";
import { toClient, toPartnerCaseSummary } from "./client.mapper.ts";
import type {
  ClientUserCreateInput,
  ClientUserUpdateInput,
  PartnerCaseQueryInput,
} from "./client.schemas.ts";
import { LogoUrlMaxLength } from "./client.schemas.ts";
import { type ClientRow, clientUsage, findCaseOwner, updateClient } from "./partners.queries.ts";

export type ClientService = ReturnType<typeof createClientService>;

const invalid = (field: string, issue: string, message: string) =>
  new ApiError("validation_error", message, [{ field, issue }]);

/**
 * The logo is put into e-mails and pages as an image address, so only a plain https URL with
 * a host is kept, in the canonical form the URL parser gives (which percent-encodes quotes and
 * angle brackets).
 */
export function parseLogoUrl(input: string): string {
  const tooLong = `logo_url must be at most ${LogoUrlMaxLength} characters`;
  if (input.length > LogoUrlMaxLength) throw invalid("logo_url", "length", tooLong);
  const url = URL.parse(input);
  if (!url) throw invalid("logo_url", "format", "logo_url is not a URL");
  if (/\s/.test(input) || url.protocol !== "https:" || url.hostname === "") {
    throw invalid("logo_url", "format", "logo_url must be an https URL");
  }
  if (url.username !== "" || url.password !== "") {
    throw invalid("logo_url", "format", "logo_url must not carry a user name or password");
  }
  // Percent-encoding can make the canonical form longer than what was sent.
  if (url.href.length > LogoUrlMaxLength) throw invalid("logo_url", "length", tooLong);
  return url.href;
}

const IsoTimestamp =
  /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i;

/**
 * A zone is required: without one the instant would depend on where the caller sits. The
 * calendar date is checked apart because Date.parse rolls "02-30" over into March.
 */
export function parseTimestamp(field: string, input: string): number {
  const text = input.trim();
  const match = IsoTimestamp.exec(text);
  const [year, month, day] = (match ?? []).slice(1, 4).map(Number) as [number, number, number];
  const calendar = match ? new Date(Date.UTC(year, month - 1, day)) : null;
  const realDate = calendar?.getUTCMonth() === month - 1 && calendar.getUTCDate() === day;
  const instant = realDate ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(instant)) {
    throw invalid(field, "format", `${field} must be an ISO 8601 timestamp with a zone`);
  }
  return instant;
}

/**
 * Back-office mode: a partner's own view of its account, users and cases. Users and cases go
 * through their own services, so every rule (and every event) of /v1/users applies here too.
 */
export function createClientService(deps: {
  db: Db;
  clock: Clock;
  users: UsersService;
  cases: CasesService;
}) {
  const { db, clock, users, cases } = deps;

  return {
    describe(client: ClientRow) {
      return toClient(client, clientUsage(db, client.id));
    },

    updateLogo(client: ClientRow, logoUrl: string | null) {
      const stored = logoUrl === null ? null : parseLogoUrl(logoUrl);

      const updated = updateClient(db, client.id, { logoUrl: stored, updatedAt: clock.now() })!;
      return toClient(updated, clientUsage(db, client.id));
    },

    listUsers(
      client: ClientRow,
      query: { email?: string; status?: "active" | "disabled"; limit?: string; cursor?: string },
    ) {
      const result = users.list(client, query);
      return { users: result.items.map(toUser), next_cursor: result.nextCursor };
    },

    createUser(client: ClientRow, input: ClientUserCreateInput) {
      const { email_verified, send_verification, ...fields } = input;
      const options = { emailVerified: email_verified, sendVerification: send_verification };
      return toUser(users.create(client, fields, options));
    },

    getUser(client: ClientRow, userId: number) {
      return toUser(users.requireUser(client, userId));
    },

    updateUser(client: ClientRow, userId: number, input: ClientUserUpdateInput) {
      const { email_verified, send_verification, ...fields } = input;
      const updated = users.update(client, userId, fields, {
        mayChangeStatus: true,
        emailVerified: email_verified,
        sendVerification: send_verification,
      });
      return toUser(updated);
    },

    removeUser(client: ClientRow, userId: number): void {
      users.remove(client, userId);
    },

    /** Answers the same whether or not an e-mail went out, as the public resend does. */
    resendVerification(client: ClientRow, userId: number) {
      users.requestVerification(client, userId);
      return { accepted: true as const };
    },

    createCase(client: ClientRow, userId: number, input: CaseCreateInput) {
      return cases.create(users.requireUser(client, userId), input);
    },

    listCases(client: ClientRow, query: PartnerCaseQueryInput) {
      const limit = pageSize(query.limit);
      const filter = {
        userId: query.user_id === undefined ? undefined : Number(query.user_id),
        active: query.active === undefined ? undefined : query.active === "true",
        category: query.category,
        receiptNumber:
          query.receipt_number === undefined
            ? undefined
            : // The filter answers a bad receipt as case creation does: invalid_receipt_number.
              parseReceipt(query.receipt_number),
        statusUpdatedSince:
          query.updated_since === undefined
            ? undefined
            : parseTimestamp("updated_since", query.updated_since),
        beforeId: decodeCursor(query.cursor),
        limit,
      };

      const rows = listPartnerCaseSummaries(db, client.id, filter);
      const result = page(
        rows.map((row) => ({ ...row, id: row.case.id })),
        limit,
      );
      return { cases: result.items.map(toPartnerCaseSummary), next_cursor: result.nextCursor };
    },

    getCase(client: ClientRow, caseRef: string) {
      const owner = findCaseOwner(db, client.id, caseRef.trim());
      if (!owner) throw notFound("case");
      return cases.get(owner, caseRef);
    },
  };
}
