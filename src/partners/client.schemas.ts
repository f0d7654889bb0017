import { t } from "elysia";
import { CaseDetailsResponse, CaseSummary } from "../cases/cases.schemas.ts";
import { IdParam } from "../http/ids.ts";
import { PageQuery } from "../http/pagination.ts";
import { oneOf } from "../http/schema.ts";
import { Categories } from "../uscis/catalogue.ts";
import { UserCreateRequest, UserUpdateRequest } from "../users/users.schemas.ts";

const Timestamp = t.String({ examples: ["2026-05-04T13:02:11.000Z"] });

export const Client = t.Object(
  {
    id: t.Integer(),
    name: t.String(),
    contact_email: t.String(),
    logo_url: t.Nullable(t.String()),
    api_key: t.String({ examples: ["ifk_..."] }),
    created_at: Timestamp,
    updated_at: Timestamp,
    usage: t.Object({
      users: t.Integer(),
      cases: t.Integer(),
      active_cases: t.Integer(),
    }),
  },
  { $id: "#/components/schemas/Client" },
);

export const LogoUrlMaxLength = 2048;

export const ClientLogoUpdateRequest = t.Object(
  {
    // Checked by the service, which parses the URL: a pattern here would only fail as
    // "expected union value", which tells the caller nothing.
    logo_url: t.Nullable(
      t.String({
        description: `an https URL of up to ${LogoUrlMaxLength} characters; null removes the logo`,
        examples: ["https://acme.example/logo.png"],
      }),
    ),
  },
  { additionalProperties: false },
);

/** What only the back office may say about an address the partner has checked itself. */
const VerificationFields = {
  email_verified: t.Optional(
    t.Boolean({ description: "true: the partner verified the address; no e-mail is sent" }),
  ),
  send_verification: t.Optional(
    t.Boolean({ description: "false: write no verification e-mail (default true)" }),
  ),
};

export const ClientUserCreateRequest = t.Object(
  { ...UserCreateRequest.properties, ...VerificationFields },
  { additionalProperties: false },
);

export const ClientUserUpdateRequest = t.Object(
  { ...UserUpdateRequest.properties, ...VerificationFields },
  { additionalProperties: false },
);

export const PartnerCaseSummary = t.Object({
  ...CaseSummary.properties,
  user: t.Object({ id: t.Integer(), email: t.String(), name: t.Nullable(t.String()) }),
});

export const PartnerCaseList = t.Object({
  cases: t.Array(PartnerCaseSummary),
  next_cursor: t.Nullable(t.String()),
});

/**
 * The same shape as CaseDetailsResponse, but its own object: API.md names both, and the
 * document names a schema after the object it is.
 */
export const PartnerCaseDetailsResponse = t.Object({ ...CaseDetailsResponse.properties });

export const PartnerCaseQuery = t.Object({
  ...PageQuery,
  user_id: t.Optional(IdParam),
  active: t.Optional(oneOf(["true", "false"])),
  category: t.Optional(oneOf(Categories)),
  // Any string: the service normalises it as a new case's receipt is normalised.
  receipt_number: t.Optional(t.String({ maxLength: 100, examples: ["eac-99-991-03403"] })),
  updated_since: t.Optional(
    t.String({
      maxLength: 40,
      description:
        "ISO 8601 timestamp with a zone: cases whose newest status update is at or after it",
      examples: ["2026-05-04T00:00:00Z"],
    }),
  ),
});

export const ClientCaseParams = t.Object({ case_ref: t.String({ maxLength: 32 }) });

export type ClientUserCreateInput = typeof ClientUserCreateRequest.static;
export type ClientUserUpdateInput = typeof ClientUserUpdateRequest.static;
export type PartnerCaseQueryInput = typeof PartnerCaseQuery.static;
