import { randomInt } from "node:crypto";
import type { Clock } from "../clock.ts";
import type { Db, Executor } from "../db/connection.ts";
import type { UserRow } from "../http/auth.ts";
import { ApiError } from "../http/errors.ts";
import { hashSecret, newUserToken, secretMatches } from "../http/secrets.ts";
import type { Logger } from "../logger.ts";
import { loginCodeEmail } from "../messages/login-code-email.ts";
import { enqueue } from "../outbox/outbox.ts";
import type { ClientRow } from "../partners/partners.queries.ts";
import { findUserByEmail, updateUser } from "../users/users.queries.ts";
import { emitUserEvent } from "../webhooks/webhook-events.ts";
import { createAfterAnswer, touchPartner } from "./after-answer.ts";
import {
  countWrongGuess,
  findLiveLoginCode,
  findSessionByTokenHash,
  insertSession,
  markLoginCodeUsed,
  replaceLoginCode,
  revokeSessionByTokenHash,
  touchSession,
} from "./auth.queries.ts";

export const LoginCodeTtlMs = 10 * 60 * 1000;
export const LoginCodeMaxAttempts = 5;
const DayMs = 24 * 60 * 60 * 1000;
/** last_used_at is for "when was this device last seen", not an audit trail: minutes will do. */
const TouchEveryMs = 60 * 1000;
/** Compared against when there is no real code, so a miss costs what a wrong guess costs. */
const NoCodeHash = hashSecret("no code");

export interface AuthDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  userTokenTtlDays: number;
}

export interface SignedIn {
  token: string;
  expiresAt: number;
  user: UserRow;
}

export type AuthService = ReturnType<typeof createAuthService>;

const normalizeEmail = (email: string) => email.trim().toLowerCase();

/** Six uniform digits from the CSPRNG; leading zeros are part of the code. */
const newLoginCode = () => String(randomInt(1_000_000)).padStart(6, "0");

/** One message for every way a sign-in can fail, so none of them tells an address apart. */
const signInFailed = () => new ApiError("unauthorized", "the code is wrong or has expired");

export function createAuthService(deps: AuthDeps) {
  const { db, clock, logger } = deps;
  const tokenTtlMs = deps.userTokenTtlDays * DayMs;

  const afterAnswer = createAfterAnswer(db, logger);

  function mintSession(tx: Executor, user: UserRow, now: number): SignedIn {
    const token = newUserToken();
    const expiresAt = now + tokenTtlMs;
    insertSession(tx, {
      userId: user.id,
      tokenHash: hashSecret(token),
      expiresAt,
      lastUsedAt: now,
      createdAt: now,
    });
    return { token, expiresAt, user };
  }

  /** The first sign-in with a code proves the address as well as a verification link would. */
  function markEmailVerified(tx: Executor, user: UserRow, now: number): UserRow {
    if (user.emailVerifiedAt !== null) return user;
    const verified = updateUser(tx, user.id, { emailVerifiedAt: now, updatedAt: now })!;
    emitUserEvent(tx, "user.email_verified", verified, now);
    return verified;
  }

  return {
    /**
     * Sends a code to a known, active user of this partner, and nothing to anyone else. Every
     * address costs the same before the answer: a look-up, and a code minted, hashed and
     * rendered; and the same after it: one commit, which stores the code and queues the e-mail
     * for a known address (see after-answer.ts).
     */
    requestCode(client: ClientRow, emailInput: string): void {
      const now = clock.now();
      const code = newLoginCode();
      const codeHash = hashSecret(code);
      const user = findUserByEmail(db, client.id, normalizeEmail(emailInput));
      const message = loginCodeEmail({
        language: user?.preferredLanguage ?? "en",
        partnerName: client.name,
        logoUrl: client.logoUrl,
        code,
        minutes: LoginCodeTtlMs / 60_000,
      });
      const store = (tx: Executor, to: Pick<UserRow, "id" | "email">) => {
        replaceLoginCode(tx, {
          userId: to.id,
          codeHash,
          expiresAt: now + LoginCodeTtlMs,
          createdAt: now,
        });
        enqueue(
          tx,
          { purpose: "login_code", userId: to.id, statusUpdateId: null },
          { channel: "email", message: { to: to.email, ...message }, redact: [code] },
          now,
        );
      };

      const known = user?.status === "active";
      afterAnswer(
        { failure: "login code not stored", clientId: client.id, userId: user?.id },
        (tx) => store(tx, known ? user : { id: 0, email: normalizeEmail(emailInput) }),
        known,
      );
    },

    /**
     * Trades a code for a user token. A failed sign-in writes after the answer, the same one
     * commit whether or not there was a code to count the wrong guess against (see
     * after-answer.ts), so it tells nothing of the address. Guesses racing each other may read
     * the count before it moves; the per-address limit on verify still caps them at 10 in 10
     * minutes.
     */
    verify(client: ClientRow, emailInput: string, codeInput: string): SignedIn {
      const now = clock.now();
      const code = codeInput.trim();
      const signedIn = db.transaction((tx): SignedIn | null => {
        const user = findUserByEmail(tx, client.id, normalizeEmail(emailInput));
        // No user has id 0: an unknown address runs the same query and finds nothing.
        const userId = user?.status === "active" ? user.id : 0;
        const live = findLiveLoginCode(tx, userId, now, LoginCodeMaxAttempts);
        const matches = secretMatches(code, live?.codeHash ?? NoCodeHash);
        if (!user || !live || !matches) {
          const context = {
            failure: "wrong guess not counted",
            clientId: client.id,
            userId: user?.id,
          };
          if (user && live) afterAnswer(context, (later) => countWrongGuess(later, live.id), true);
          else afterAnswer(context, (later) => touchPartner(later, client.id), false);
          return null;
        }

        markLoginCodeUsed(tx, live.id, now);
        return mintSession(tx, markEmailVerified(tx, user, now), now);
      });
      if (!signedIn) throw signInFailed();
      return signedIn;
    },

    /**
     * The `userTokens` lookup for the authenticator: the token's user and partner while the
     * token is unexpired and unrevoked and both of them are active, else null.
     */
    sessionFor(token: string): { client: ClientRow; user: UserRow } | null {
      const now = clock.now();
      const found = findSessionByTokenHash(db, hashSecret(token));
      if (!found) return null;
      const { session, user, client } = found;
      if (session.revokedAt !== null || session.expiresAt <= now) return null;
      if (user.status !== "active" || client.disabledAt !== null) return null;

      if (session.lastUsedAt === null || now - session.lastUsedAt >= TouchEveryMs) {
        touchSession(db, session.id, now);
      }
      return { client, user };
    },

    logout(token: string): void {
      revokeSessionByTokenHash(db, hashSecret(token), clock.now());
    },
  };
}
