import { t } from "elysia";
import { Email, User } from "../users/users.schemas.ts";

export const LoginCodeRequest = t.Object(
  { email: Email },
  { additionalProperties: false, $id: "#/components/schemas/LoginCodeRequest" },
);

export const LoginCodeAccepted = t.Object({
  accepted: t.Literal(true),
  expires_in: t.Integer({ description: "seconds the code stays valid" }),
});

export const LoginCodeVerifyRequest = t.Object(
  {
    email: Email,
    // Surrounding spaces are allowed: people paste the code from the e-mail.
    code: t.String({ pattern: "^\\s*[0-9]{6}\\s*$", examples: ["123456"] }),
  },
  { additionalProperties: false, $id: "#/components/schemas/LoginCodeVerifyRequest" },
);

export const LoginVerifyResponse = t.Object(
  {
    token: t.String({ examples: ["ift_..."] }),
    token_type: t.Literal("Bearer"),
    expires_at: t.String(),
    user: User,
  },
  { $id: "#/components/schemas/LoginVerifyResponse" },
);

export type LoginCodeInput = typeof LoginCodeRequest.static;
export type LoginCodeVerifyInput = typeof LoginCodeVerifyRequest.static;
