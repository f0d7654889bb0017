import { toCaseSummary } from "../cases/cases.mapper.ts";
import type { PartnerCaseSummaryRow } from "../cases/cases.queries.ts";
import { toIso } from "../clock.ts";
import type { ClientRow, clientUsage } from "./partners.queries.ts";

export function toClient(row: ClientRow, usage: ReturnType<typeof clientUsage>) {
  return {
    id: row.id,
    name: row.name,
    contact_email: row.contactEmail,
    logo_url: row.logoUrl,
    api_key: row.apiKey,
    created_at: toIso(row.createdAt)!,
    updated_at: toIso(row.updatedAt)!,
    usage,
  };
}

export function toPartnerCaseSummary(row: PartnerCaseSummaryRow) {
  return { ...toCaseSummary(row), user: row.user };
}
