import { Elysia, t } from "elysia";
import type { AuthMacro } from "../http/auth.ts";
import { ApiError } from "../http/errors.ts";
import { requestState } from "../http/plumbing.ts";
import type { EmailFlowLimits } from "../http/rate-limit.ts";
import { Accepted, ResendVerificationRequest } from "./users.schemas.ts";
import type { VerificationService } from "./verification.service.ts";
import { languageFromHeader, prefersJson, verificationPage } from "./verification-page.ts";

const InvalidLinkMessage = "the link is invalid or has expired";

// The token travels in the URL: no cache may keep the answer and no Referer may carry it on.
const LinkHeaders = {
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
};

const VerifyEmailQuery = t.Object(
  { token: t.Optional(t.String({ description: "the token from the verification e-mail" })) },
  // Mail clients and link trackers append their own parameters; they must not break the link.
  { additionalProperties: true },
);

export function verificationRoutes(
  auth: AuthMacro,
  verification: VerificationService,
  limits: Pick<EmailFlowLimits, "check">,
) {
  return new Elysia({ prefix: "/v1/users", tags: ["users"] })
    .use(auth)
    .get(
      "/verify-email",
      ({ query, request, set }) => {
        Object.assign(set.headers, LinkHeaders);
        // HEAD is how link checkers and mail scanners look at a link: it must not spend it.
        const result = verification.verifyEmail(query.token, {
          redeem: request.method !== "HEAD",
        });
        if (result.outcome !== "invalid") {
          const state = requestState(request);
          state.clientId = result.client.id;
          state.userId = result.user.id;
        }

        if (prefersJson(request.headers.get("accept"))) {
          if (result.outcome === "invalid") {
            throw new ApiError("validation_error", InvalidLinkMessage, [
              { field: "token", issue: "invalid_or_expired" },
            ]);
          }
          return {
            verified: true as const,
            user_id: result.user.id,
            already_verified: result.outcome === "already_verified",
          };
        }

        const page =
          result.outcome === "invalid"
            ? verificationPage({
                outcome: "invalid",
                language: languageFromHeader(request.headers.get("accept-language")),
              })
            : verificationPage({
                outcome: result.outcome,
                language: result.user.preferredLanguage,
                partner: result.client,
              });
        set.status = result.outcome === "invalid" ? 400 : 200;
        set.headers["content-type"] = "text/html; charset=utf-8";
        set.headers["content-security-policy"] = page.contentSecurityPolicy;
        return page.html;
      },
      {
        query: VerifyEmailQuery,
        detail: {
          summary: "The link in the verification e-mail: a page, or JSON when asked for",
          security: [],
          responses: {
            200: {
              description: "The address is verified (now or already)",
              content: {
                "text/html": { schema: { type: "string" } },
                // Described here rather than validated: the route answers HTML or JSON.
                "application/json": {
                  schema: {
                    type: "object",
                    properties: {
                      verified: { type: "boolean", enum: [true] },
                      user_id: { type: "integer" },
                      already_verified: { type: "boolean" },
                    },
                    required: ["verified", "user_id", "already_verified"],
                  },
                },
              },
            },
            400: {
              description: "The link is wrong, used up or older than 48 hours",
              content: {
                "text/html": { schema: { type: "string" } },
                "application/json": { schema: { $ref: "#/components/schemas/ErrorEnvelope" } },
              },
            },
          },
        },
      },
    )
    .post(
      "/resend-verification",
      ({ principal, body, request, server, set }) => {
        // Before the look-up, so a known and an unknown address spend the same budget.
        limits.check("resend-verification", { principal, email: body.email, request, server });
        verification.resend(
          {
            client: principal.client,
            selfUserId: principal.kind === "user" ? principal.user.id : undefined,
          },
          body.email,
        );
        set.status = 202;
        return { accepted: true as const };
      },
      {
        access: ["publishable", "partner", "user"],
        body: ResendVerificationRequest,
        response: { 202: Accepted },
        detail: {
          summary: "Send a new verification e-mail; the same answer for any address",
          security: [{ apiKey: [] }, { apiKey: [], apiSecret: [] }, { userToken: [] }],
        },
      },
    );
}
