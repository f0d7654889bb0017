import { revokePartnerSessions } from "../auth/auth.queries.ts";
import type { Clock } from "../clock.ts";
import type { Db } from "../db/connection.ts";
import { ApiError } from "../http/errors.ts";
import { hashSecret, newApiKey, newApiSecret } from "../http/secrets.ts";
import { parseLogoUrl } from "./client.service.ts";
import {
  type ClientRow,
  findClientById,
  insertClient,
  listClients,
  updateClient,
} from "./partners.queries.ts";

/** What the operator's CLI does with partners; the secret leaves this module only once. */
export function createPartnersService(db: Db, clock: Clock) {
  return {
    create(input: { name: string; email: string; logoUrl?: string | null }) {
      const name = input.name.trim();
      const email = input.email.trim().toLowerCase();
      if (!name) throw new Error("--name must not be empty");
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw new Error("--email is not an e-mail");
      const apiKey = newApiKey();
      const apiSecret = newApiSecret();
      const now = clock.now();
      const client = insertClient(db, {
        name,
        contactEmail: email,
        logoUrl: input.logoUrl ? logoForCli(input.logoUrl) : null,
        apiKey,
        secretHash: hashSecret(apiSecret),
        createdAt: now,
        updatedAt: now,
      });
      return { client, apiKey, apiSecret };
    },

    list(): ClientRow[] {
      return listClients(db);
    },

    rotateSecret(id: number) {
      const apiSecret = newApiSecret();
      const client = updateClient(db, id, {
        secretHash: hashSecret(apiSecret),
        updatedAt: clock.now(),
      });
      if (!client) throw new Error(`no partner with id ${id}`);
      return { client, apiSecret };
    },

    /**
     * Its users' tokens are revoked with it, as a disabled user's are: enabling the partner
     * again must not bring back a token that may have leaked while nobody was watching.
     */
    disable(id: number) {
      const existing = findClientById(db, id);
      if (!existing) throw new Error(`no partner with id ${id}`);
      if (existing.disabledAt !== null) return existing;
      const now = clock.now();
      return db.transaction((tx) => {
        revokePartnerSessions(tx, id, now);
        return updateClient(tx, id, { disabledAt: now, updatedAt: now })!;
      });
    },

    /** Undoes `disable`: the key and secret work again and the checker picks its cases up. */
    enable(id: number) {
      const existing = findClientById(db, id);
      if (!existing) throw new Error(`no partner with id ${id}`);
      if (existing.disabledAt === null) return existing;
      return updateClient(db, id, { disabledAt: null, updatedAt: clock.now() })!;
    },
  };
}

/** The CLI keeps to the rules `PUT /v1/client/logo` enforces, with their message. */
function logoForCli(input: string): string {
  try {
    return parseLogoUrl(input.trim());
  } catch (error) {
    if (error instanceof ApiError) throw new Error(`--logo: ${error.message}`);
    throw error;
  }
}
