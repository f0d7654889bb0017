import { toIso } from "../clock.ts";
import type { UserRow } from "./users.queries.ts";

export function toUser(row: UserRow) {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    phone: row.phone,
    preferred_language: row.preferredLanguage,
    email_verified_at: toIso(row.emailVerifiedAt),
    notify_by_email: row.notifyByEmail,
    notify_by_whatsapp: row.notifyByWhatsapp,
    status: row.status,
    created_at: toIso(row.createdAt)!,
    updated_at: toIso(row.updatedAt)!,
  };
}
