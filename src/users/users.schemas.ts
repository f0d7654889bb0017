import { t } from "elysia";
import { IdParam } from "../http/ids.ts";
import { integer, oneOf, plainText } from "../http/schema.ts";

/**
 * An address mail servers accept: a dot-atom local part (no leading, trailing or double dot, no
 * control characters or brackets) and a domain of letter-digit-hyphen labels. Surrounding spaces
 * are allowed (people paste them); the service trims before storing.
 */
export const EmailPattern =
  "^\\s*(?!\\.)(?!.*\\.\\.)[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}(?<!\\.)@" +
  "(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}\\s*$";
export const E164Pattern = "^\\+[1-9][0-9]{6,14}$";

export const Email = t.String({
  pattern: EmailPattern,
  maxLength: 254,
  examples: ["ana@example.com"],
});
const Phone = t.String({ pattern: E164Pattern, examples: ["+5511999990000"] });
const Language = oneOf(["en", "es", "pt"]);
const Name = plainText({ minLength: 1, maxLength: 200 });

export const User = t.Object(
  {
    id: integer(),
    email: t.String(),
    name: t.Nullable(t.String()),
    phone: t.Nullable(t.String()),
    preferred_language: Language,
    email_verified_at: t.Nullable(t.String()),
    notify_by_email: t.Boolean(),
    notify_by_whatsapp: t.Boolean(),
    status: oneOf(["active", "disabled"]),
    created_at: t.String(),
    updated_at: t.String(),
  },
  { $id: "#/components/schemas/User" },
);

export const UserCreateRequest = t.Object(
  {
    email: Email,
    name: t.Optional(t.Nullable(Name)),
    phone: t.Optional(t.Nullable(Phone)),
    preferred_language: t.Optional(Language),
    notify_by_email: t.Optional(t.Boolean()),
    notify_by_whatsapp: t.Optional(t.Boolean()),
  },
  { additionalProperties: false },
);

export const UserUpdateRequest = t.Object(
  {
    email: t.Optional(Email),
    name: t.Optional(t.Nullable(Name)),
    phone: t.Optional(t.Nullable(Phone)),
    preferred_language: t.Optional(Language),
    notify_by_email: t.Optional(t.Boolean()),
    notify_by_whatsapp: t.Optional(t.Boolean()),
    status: t.Optional(oneOf(["active", "disabled"])),
  },
  { additionalProperties: false },
);

export const ResendVerificationRequest = t.Object(
  { email: Email },
  { additionalProperties: false },
);

/** A request taken on, told the same way whatever it found (known address or not). */
export const Accepted = t.Object({ accepted: t.Literal(true) });

export const UserList = t.Object({ users: t.Array(User), next_cursor: t.Nullable(t.String()) });

export const UserIdParams = t.Object({ user_id: IdParam });

export type UserCreateInput = typeof UserCreateRequest.static;
export type UserUpdateInput = typeof UserUpdateRequest.static;
