import type { Clock } from "../clock.ts";
import type { Db, Executor } from "../db/connection.ts";
import { ApiError, notFound } from "../http/errors.ts";
import { decodeCursor, page } from "../http/pagination.ts";
import { hashSecret, newEmailToken } from "../http/secrets.ts";
import { verificationEmail } from "../messages/verification-email.ts";
import { enqueue } from "../outbox/outbox.ts";
import type { ClientRow } from "../partners/partners.queries.ts";
import {
  deleteUser,
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

    list(
      client: ClientRow,
      query: { email?: string; status?: "active" | "disabled"; limit?: number; cursor?: string },
    ) {
      const limit = query.limit ?? 50;
      const rows = listUsers(db, client.id, {
        email: query.email?.trim().toLowerCase(),
        status: query.status,
        beforeId: decodeCursor(query.cursor),
        limit,
      });
      return page(rows, limit);
    },

    create(client: ClientRow, input: UserCreateInput): UserRow {
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
          createdAt: now,
          updatedAt: now,
        });
        queueVerification(tx, client, user);
        return user;
      });
    },

    update(
      client: ClientRow,
      userId: number,
      input: UserUpdateInput,
      options: { mayChangeStatus: boolean },
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
        const updated = updateUser(tx, userId, {
          ...(emailChanged ? { email, emailVerifiedAt: null } : {}),
          ...(input.name !== undefined ? { name: input.name } : {}),
          phone,
          ...(input.preferred_language ? { preferredLanguage: input.preferred_language } : {}),
          ...(input.notify_by_email !== undefined ? { notifyByEmail: input.notify_by_email } : {}),
          notifyByWhatsapp,
          ...(input.status ? { status: input.status } : {}),
          updatedAt: clock.now(),
        })!;
        if (emailChanged) queueVerification(tx, client, updated);
        return updated;
      });
    },

    remove(client: ClientRow, userId: number): void {
      requireUser(client, userId);
      // Cases, status updates and tokens go with the user through ON DELETE CASCADE.
      deleteUser(db, userId);
    },
  };
}
