import type { Clock } from "../clock.ts";
import type { Db } from "../db/connection.ts";
import { hashSecret } from "../http/secrets.ts";
import type { ClientRow } from "../partners/partners.queries.ts";
import { emitUserEvent } from "../webhooks/webhook-events.ts";
import {
  findTokenWithOwner,
  findUserByEmail,
  markTokenUsed,
  type UserRow,
  updateUser,
} from "./users.queries.ts";
import type { UsersService } from "./users.service.ts";

export interface VerificationDeps {
  db: Db;
  clock: Clock;
  users: Pick<UsersService, "queueVerification">;
}

export type VerifyResult =
  | { outcome: "verified" | "already_verified"; user: UserRow; client: ClientRow }
  | { outcome: "invalid" };

/** Who asks for a new link: a partner (or its publishable key), or one signed-in user. */
export interface ResendRequester {
  client: ClientRow;
  /** Set for a user token: it may only ask for its own address. */
  selfUserId?: number;
}

// What newEmailToken mints; anything else is refused before it costs a query.
const TokenShape = /^ifv_[A-Za-z0-9]{43}$/;

const normalizeEmail = (email: string) => email.trim().toLowerCase();

export type VerificationService = ReturnType<typeof createVerificationService>;

export function createVerificationService(deps: VerificationDeps) {
  const { db, clock } = deps;

  return {
    /**
     * Redeems the link's token. A token only proves the address it was sent to: once the
     * user's e-mail has changed, the old link is as good as a wrong one. With `redeem: false`
     * it only tells what redeeming would come to, and changes nothing.
     */
    verifyEmail(token: string | undefined, options = { redeem: true }): VerifyResult {
      if (token === undefined || !TokenShape.test(token)) return { outcome: "invalid" };
      const now = clock.now();

      return db.transaction((tx): VerifyResult => {
        const found = findTokenWithOwner(tx, hashSecret(token));
        if (!found) return { outcome: "invalid" };
        const { emailToken, user, client } = found;
        if (client.disabledAt !== null || emailToken.email !== user.email) {
          return { outcome: "invalid" };
        }
        // A second click is answered kindly even after the 48 hours: the token was good once.
        if (emailToken.usedAt !== null) {
          return user.emailVerifiedAt !== null
            ? { outcome: "already_verified", user, client }
            : { outcome: "invalid" };
        }
        if (emailToken.expiresAt <= now) return { outcome: "invalid" };
        if (!options.redeem) {
          const outcome = user.emailVerifiedAt !== null ? "already_verified" : "verified";
          return { outcome, user, client };
        }

        markTokenUsed(tx, emailToken.id, now);
        // An older link of the same address, clicked after a newer one: nothing new happened,
        // so no second event.
        if (user.emailVerifiedAt !== null) return { outcome: "already_verified", user, client };

        const verified = updateUser(tx, user.id, { emailVerifiedAt: now, updatedAt: now })!;
        emitUserEvent(tx, "user.email_verified", verified, now);
        return { outcome: "verified", user: verified, client };
      });
    },

    /**
     * Sends a new link to a known, active, unverified user of the requester's partner, and
     * quietly does nothing otherwise: the caller's answer must not tell which case it was.
     * Older unused links stop working, so only the newest e-mail's link counts.
     */
    resend(requester: ResendRequester, email: string): void {
      db.transaction((tx) => {
        const user = findUserByEmail(tx, requester.client.id, normalizeEmail(email));
        if (user?.status !== "active" || user.emailVerifiedAt !== null) return;
        if (requester.selfUserId !== undefined && requester.selfUserId !== user.id) return;

        deps.users.queueVerification(tx, requester.client, user);
      });
    },
  };
}
