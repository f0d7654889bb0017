import { Elysia } from "elysia";
import { ApiError } from "../http/errors.ts";
import {
  createTwilioStatusService,
  type TwilioStatusDeps,
  TwilioStatusPath,
} from "./twilio-status.ts";

/**
 * Twilio's message status callbacks. Twilio posts application/x-www-form-urlencoded, so the
 * app's body reader has to accept a form on this path (httpPlumbing's `formRoutes`); the body
 * then arrives here as the form's fields. Only a valid X-Twilio-Signature gets past the guard.
 */
export function twilioStatusRoutes(deps: TwilioStatusDeps) {
  const service = createTwilioStatusService(deps);

  return new Elysia({ tags: ["providers"] }).post(
    TwilioStatusPath,
    ({ body, request, set }) => {
      // The base only matters for a request without a Host header, whose URL is a bare path.
      const url = new URL(request.url, "http://localhost");
      const params = formFields(body);
      const signature = request.headers.get("x-twilio-signature");
      if (!service.authentic(signature, url.search, params)) {
        throw new ApiError("forbidden", "the X-Twilio-Signature header is missing or invalid");
      }

      service.record(params, url.searchParams.get("job"));
      // Twilio only looks at the status; an unknown MessageSid gets the same answer, so the
      // endpoint does not tell which messages exist.
      set.status = 204;
    },
    {
      detail: {
        summary: "Twilio message status callback",
        description:
          "Called by Twilio, not by partners. Accepted only with a valid X-Twilio-Signature over " +
          "PUBLIC_BASE_URL plus the path and query. A failed or undelivered status marks the " +
          "status update's WhatsApp notification failed; a later success never undoes that.",
        // Twilio signs its requests; partner credentials play no part here.
        security: [],
        responses: {
          204: { description: "Taken; also the answer for a message we do not know" },
          403: { description: "Missing or invalid X-Twilio-Signature" },
        },
      },
    },
  );
}

/**
 * Every field counts towards the signature, so nothing is dropped or renamed here; a value
 * that is not a string cannot have come from Twilio's form and makes the signature fail.
 */
function formFields(body: unknown): Record<string, string> {
  if (body === null || typeof body !== "object") return {};
  return Object.fromEntries(
    Object.entries(body).map(([name, value]) => [name, typeof value === "string" ? value : ""]),
  );
}

export { TwilioStatusPath };
