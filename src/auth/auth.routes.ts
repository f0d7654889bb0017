import { Elysia } from "elysia";
import { toIso } from "../clock.ts";
import type { AuthMacro } from "../http/auth.ts";
import type { EmailFlowLimits } from "../http/rate-limit.ts";
import { toUser } from "../users/users.mapper.ts";
import {
  LoginCodeAccepted,
  LoginCodeRequest,
  LoginCodeVerifyRequest,
  LoginVerifyResponse,
} from "./auth.schemas.ts";
import { type AuthService, LoginCodeTtlMs } from "./auth.service.ts";

/** The token the authenticator has already accepted for this request. */
const bearerToken = (request: Request) =>
  /^Bearer\s+(\S+)$/i.exec(request.headers.get("authorization")?.trim() ?? "")?.[1] ?? "";

export function authRoutes(auth: AuthMacro, signIn: AuthService, limits: EmailFlowLimits) {
  return new Elysia({ prefix: "/v1/auth", tags: ["auth"] })
    .use(auth)
    .post(
      "/login-code",
      ({ principal, body, request, server, set }) => {
        limits.check("login-code", { principal, email: body.email, request, server });
        signIn.requestCode(principal.client, body.email);
        set.status = 202;
        return { accepted: true as const, expires_in: LoginCodeTtlMs / 1000 };
      },
      {
        access: ["publishable", "partner"],
        body: LoginCodeRequest,
        response: { 202: LoginCodeAccepted },
        detail: {
          summary: "E-mail a 6-digit sign-in code; the same answer for any address",
        },
      },
    )
    .post(
      "/verify",
      ({ principal, body, request, server }) => {
        limits.check("verify", { principal, email: body.email, request, server });
        const signedIn = signIn.verify(principal.client, body.email, body.code);
        return {
          token: signedIn.token,
          token_type: "Bearer" as const,
          expires_at: toIso(signedIn.expiresAt)!,
          user: toUser(signedIn.user),
        };
      },
      {
        access: ["publishable", "partner"],
        body: LoginCodeVerifyRequest,
        response: { 200: LoginVerifyResponse },
        detail: { summary: "Trade a sign-in code for a user token" },
      },
    )
    .post(
      "/logout",
      ({ request, set }) => {
        signIn.logout(bearerToken(request));
        set.status = 204;
      },
      {
        access: ["user"],
        detail: { summary: "Revoke the user token this request carries" },
      },
    );
}
