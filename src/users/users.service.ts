import type { Clock } from "../clock.ts";
import type { Db } from "../db/connection.ts";
import { ApiError, notFound } from "../http/errors.ts";
import { decodeCursor, page } from "../http/pagination.ts";
import { hashSecret, newEmailToken } from "../http/secrets.ts";
import type { Logger } from "../logger.ts";
import { verificationEmail } from "../messages/verification-email.ts";
import type { Mailer } from "../notifications/mailer.ts";
import type { ClientRow } from "../partners/partners.queries.ts";
import {
  type DbOrTx,
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
  mailer: Mailer;
  logger: Logger;
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

  function mintVerification(tx: DbOrTx, user: UserRow): string {
    const token = newEmailToken();
    insertEmailToken(tx, {
      userId: user.id,
      tokenHash: hashSecret(token),
      email: user.email,
      expiresAt: clock.now() + EmailTokenTtlMs,
      createdAt: clock.now(),
    });
    return token;
  }

  async function sendVerification(client: ClientRow, user: UserRow, token: string) {
    const link = `${deps.publicBaseUrl}/v1/users/verify-email?token=${token}`;
    const message = verificationEmail({
      language: user.preferredLanguage,
      partnerName: client.name,
      logoUrl: client.logoUrl,
      userName: user.name,
      link,
    });
    try {
      await deps.mailer.send({
        to: user.email,
        purpose: "verification",
        secrets: [token],
        ...message,
      });
    } catch (error) {
      deps.logger.error({ err: error, user_id: user.id }, "verification e-mail failed");
    }
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

    async create(client: ClientRow, input: UserCreateInput): Promise<UserRow> {
      const email = input.email.trim().toLowerCase();
      if (input.notify_by_whatsapp && !input.phone) {
        throw new ApiError("validation_error", "notify_by_whatsapp needs a phone", [
          { field: "notify_by_whatsapp", issue: "requires_phone" },
        ]);
      }
      const now = clock.now();
      const created = db.transaction((tx) => {
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
        return { user, token: mintVerification(tx, user) };
      });
      await sendVerification(client, created.user, created.token);
      return created.user;
    },

    async update(
      client: ClientRow,
      userId: number,
      input: UserUpdateInput,
      options: { mayChangeStatus: boolean },
    ): Promise<UserRow> {
      if (input.status !== undefined && !options.mayChangeStatus) {
        throw new ApiError("forbidden", "only the partner may change a user's status");
      }
      const result = db.transaction((tx) => {
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
        return { updated, token: emailChanged ? mintVerification(tx, updated) : null };
      });
      if (result.token) await sendVerification(client, result.updated, result.token);
      return result.updated;
    },

    remove(client: ClientRow, userId: number): void {
      requireUser(client, userId);
      // Cases, status updates and tokens go with the user through ON DELETE CASCADE.
      deleteUser(db, userId);
    },
  };
}
