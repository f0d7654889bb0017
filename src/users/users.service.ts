import { revokeUserSessions } from "../auth/auth.queries.ts";
import type { Clock } from "../clock.ts";
import type { Db, Executor } from "../db/connection.ts";
import { ApiError, notFound } from "../http/errors.ts";
import { decodeCursor, page, pageSize } from "../http/pagination.ts";
import { hashSecret, newEmailToken } from "../http/secrets.ts";
import { verificationEmail } from "../messages/verification-email.ts";
import { enqueue } from "../outbox/outbox.ts";
import type { ClientRow } from "../partners/partners.queries.ts";
import { emitUserEvent, emitUserUpdated } from "../webhooks/webhook-events.ts";
import {
  deleteUser,
  expireUnusedTokens,
  findUser,
  findUserByEmail,
  insertEmailToken,
  insertUser,
  listUsers,
  type UserRow,
  updateUser,
} from "./users.queries.ts";
import type { UserCreateInput, UserUpdateInput } from "./users.schemas.ts";

export const EmailTokenTtlMs = 48 * 60 * 60 * 1000;

export interface UsersDeps {
  db: Db;
  clock: Clock;
  publicBaseUrl: string;
}

export type UsersService = ReturnType<typeof createUsersService>;

/** What only the back office may say: the partner vouches for the address itself. */
export interface VerificationOptions {
  /** true: the address counts as verified now and no e-mail goes out; false: unverified. */
  emailVerified?: boolean;
  /** false: write no verification e-mail where one would otherwise go out. */
  sendVerification?: boolean;
}

function verifiedAtAfterUpdate(
  current: UserRow,
  emailChanged: boolean,
  emailVerified: boolean | undefined,
  now: number,
): number | null {
  const kept = emailChanged ? null : current.emailVerifiedAt;
  if (emailVerified === undefined) return kept;
  return emailVerified ? (kept ?? now) : null;
}

export function createUsersService(deps: UsersDeps) {
  const { db, clock } = deps;

  function requireUser(client: ClientRow, userId: number): UserRow {
    const user = findUser(db, client.id, userId);
    if (!user) throw notFound("user");
    return user;
  }

  /**
   * Mints the link's token and writes the e-mail into the outbox in the caller's transaction,
   * so a user is never created without their verification e-mail on its way.
   */
  function queueVerification(tx: Executor, client: ClientRow, user: UserRow): void {
    const now = clock.now();
    expireUnusedTokens(tx, user.id, now);
    const token = newEmailToken();
    insertEmailToken(tx, {
      userId: user.id,
      tokenHash: hashSecret(token),
      email: user.email,
      expiresAt: now + EmailTokenTtlMs,
      createdAt: now,
    });
    const message = verificationEmail({
      language: user.preferredLanguage,
      partnerName: client.name,
      logoUrl: client.logoUrl,
      userName: user.name,
      link: `${deps.publicBaseUrl}/v1/users/verify-email?token=${token}`,
    });
    enqueue(
      tx,
      { purpose: "verification", userId: user.id, statusUpdateId: null },
      { channel: "email", message: { to: user.email, ...message }, redact: [token] },
      now,
    );
  }

  return {
    requireUser,
    queueVerification,

    list(
      client: ClientRow,
      query: { email?: string; status?: "active" | "disabled"; limit?: string; cursor?: string },
    ) {
      const limit = pageSize(query.limit);
      const rows = listUsers(db, client.id, {
        email: query.email?.trim().toLowerCase(),
        status: query.status,
        beforeId: decodeCursor(query.cursor),
        limit,
      });
      return page(rows, limit);
    },

    create(client: ClientRow, input: UserCreateInput, options: VerificationOptions = {}): UserRow {
      const email = input.email.trim().toLowerCase();
      if (input.notify_by_whatsapp && !input.phone) {
        throw new ApiError("validation_error", "notify_by_whatsapp needs a phone", [
          { field: "notify_by_whatsapp", issue: "requires_phone" },
        ]);
      }
      const now = clock.now();
      return db.transaction((tx) => {
        if (findUserByEmail(tx, client.id, email)) {
          throw new ApiError("conflict", "a user with this e-mail already exists", [
            { field: "email", issue: "taken" },
          ]);
        }
        const user = insertUser(tx, {
          clientId: client.id,
          email,
          name: input.name ?? null,
          phone: input.phone ?? null,
          preferredLanguage: input.preferred_language ?? "en",
          notifyByEmail: input.notify_by_email ?? true,
          notifyByWhatsapp: input.notify_by_whatsapp ?? false,
          emailVerifiedAt: options.emailVerified ? now : null,
          createdAt: now,
          updatedAt: now,
        });
        if (!options.emailVerified && options.sendVerification !== false) {
          queueVerification(tx, client, user);
        }
        emitUserEvent(tx, "user.created", user, now);
        if (user.emailVerifiedAt !== null) emitUserEvent(tx, "user.email_verified", user, now);
        return user;
      });
    },

    update(
      client: ClientRow,
      userId: number,
      input: UserUpdateInput,
      options: { mayChangeStatus: boolean } & VerificationOptions,
    ): UserRow {
      if (input.status !== undefined && !options.mayChangeStatus) {
        throw new ApiError("forbidden", "only the partner may change a user's status");
      }
      return db.transaction((tx) => {
        const current = findUser(tx, client.id, userId);
        if (!current) throw notFound("user");
        const email = input.email?.trim().toLowerCase();
        const emailChanged = email !== undefined && email !== current.email;
        if (emailChanged && findUserByEmail(tx, client.id, email)) {
          throw new ApiError("conflict", "a user with this e-mail already exists", [
            { field: "email", issue: "taken" },
          ]);
        }
        const phone = input.phone === undefined ? current.phone : input.phone;
        const notifyByWhatsapp = input.notify_by_whatsapp ?? current.notifyByWhatsapp;
        if (notifyByWhatsapp && !phone) {
          throw new ApiError("validation_error", "notify_by_whatsapp needs a phone", [
            {
              field: input.phone === null ? "phone" : "notify_by_whatsapp",
              issue: "requires_phone",
            },
          ]);
        }
        const now = clock.now();
        const emailVerifiedAt = verifiedAtAfterUpdate(
          current,
          emailChanged,
          options.emailVerified,
          now,
        );
        const updated = updateUser(tx, userId, {
          ...(emailChanged ? { email } : {}),
          emailVerifiedAt,
          ...(input.name !== undefined ? { name: input.name } : {}),
          phone,
          ...(input.preferred_language ? { preferredLanguage: input.preferred_language } : {}),
          ...(input.notify_by_email !== undefined ? { notifyByEmail: input.notify_by_email } : {}),
          notifyByWhatsapp,
          ...(input.status ? { status: input.status } : {}),
          updatedAt: now,
        })!;
        // Disabling ends every sign-in for good: enabling the user again needs a new code.
        if (updated.status === "disabled" && current.status !== "disabled") {
          revokeUserSessions(tx, userId, now);
        }
        // A new address, or one the partner withdrew its word for, needs proving again.
        const needsProof =
          emailVerifiedAt === null && (emailChanged || current.emailVerifiedAt !== null);
        if (needsProof && options.sendVerification !== false) {
          queueVerification(tx, client, updated);
        }
        emitUserUpdated(tx, current, updated, now);
        // The partner vouching for the address verifies it as surely as the link does.
        if (current.emailVerifiedAt === null && updated.emailVerifiedAt !== null) {
          emitUserEvent(tx, "user.email_verified", updated, now);
        }
        return updated;
      });
    },

    /** Queues a new verification e-mail unless the address is already verified. */
    requestVerification(client: ClientRow, userId: number): { queued: boolean } {
      return db.transaction((tx) => {
        const user = findUser(tx, client.id, userId);
        if (!user) throw notFound("user");
        if (user.emailVerifiedAt !== null) return { queued: false };
        queueVerification(tx, client, user);
        return { queued: true };
      });
    },

    remove(client: ClientRow, userId: number): void {
      db.transaction((tx) => {
        const user = findUser(tx, client.id, userId);
        if (!user) throw notFound("user");
        // The event carries the user as they were; the rows are gone once it commits.
        emitUserEvent(tx, "user.deleted", user, clock.now());
        // Cases, status updates and tokens go with the user through ON DELETE CASCADE.
        deleteUser(tx, userId);
      });
    },
  };
}
