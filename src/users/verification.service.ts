import { createAfterAnswer } from "../auth/after-answer.ts";
import type { Clock } from "../clock.ts";
import type { Db, Executor } from "../db/connection.ts";
import { hashSecret } from "../http/secrets.ts";
import type { Logger } from "../logger.ts";
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
  logger: Logger;
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

/** Nobody, at the address asked for: what an unknown address's rolled-back write is for. */
function standIn(email: string): UserRow {
  return {
    id: 0,
    clientId: 0,
    email,
    name: null,
    phone: null,
    preferredLanguage: "en",
    emailVerifiedAt: null,
    notifyByEmail: true,
    notifyByWhatsapp: false,
    status: "active",
    createdAt: 0,
    updatedAt: 0,
  };
}

export type VerificationService = ReturnType<typeof createVerificationService>;

export function createVerificationService(deps: VerificationDeps) {
  const { db, clock } = deps;
  const afterAnswer = createAfterAnswer(db, deps.logger);

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
     * quietly does nothing otherwise: the caller's answer must not tell which case it was, nor
     * its time, nor the time of the next answer, so every case costs one look-up before the
     * answer and one commit after it (see after-answer.ts). Older unused links stop working,
     * so only the newest e-mail's link counts.
     */
    resend(requester: ResendRequester, email: string): void {
      const { client, selfUserId } = requester;
      const address = normalizeEmail(email);
      const user = findUserByEmail(db, client.id, address);
      const wanted = (found: UserRow | undefined): found is UserRow =>
        found?.status === "active" &&
        found.emailVerifiedAt === null &&
        (selfUserId === undefined || selfUserId === found.id);
      const known = wanted(user);
      const queue = (tx: Executor) => {
        // Read again: the user may have been verified, changed or disabled since the answer.
        const current = findUserByEmail(tx, client.id, address);
        if (!known) return deps.users.queueVerification(tx, client, standIn(address));
        if (current?.id === user?.id && wanted(current)) {
          deps.users.queueVerification(tx, client, current);
        }
      };

      afterAnswer(
        { failure: "verification link not queued", clientId: client.id, userId: user?.id },
        queue,
        known,
      );
    },
  };
}
