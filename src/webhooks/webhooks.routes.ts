import { Elysia, t } from "elysia";
import type { AuthMacro } from "../http/auth.ts";
import { PageQuery } from "../http/pagination.ts";
import {
  Webhook,
  WebhookCreateRequest,
  WebhookDeliveryList,
  WebhookIdParams,
  WebhookList,
  WebhookUpdateRequest,
  WebhookUpdateResponse,
  WebhookWithSecret,
} from "./webhooks.schemas.ts";
import type { WebhooksService } from "./webhooks.service.ts";

export function webhooksRoutes(auth: AuthMacro, webhooks: WebhooksService) {
  return new Elysia({ prefix: "/v1/webhooks", tags: ["webhooks"] })
    .use(auth)
    .get("", ({ principal, query }) => webhooks.list(principal.client, query), {
      access: ["partner"],
      query: t.Object(PageQuery),
      response: { 200: WebhookList },
      detail: { summary: "List the partner's webhooks" },
    })
    .post(
      "",
      async ({ principal, body, set }) => {
        const created = await webhooks.create(principal.client, body);
        set.status = 201;
        return created;
      },
      {
        access: ["partner"],
        body: WebhookCreateRequest,
        response: { 201: WebhookWithSecret },
        detail: { summary: "Register an endpoint; the answer shows its signing secret once" },
      },
    )
    .get(
      "/:webhook_id",
      ({ principal, params }) => webhooks.get(principal.client, Number(params.webhook_id)),
      {
        access: ["partner"],
        params: WebhookIdParams,
        response: { 200: Webhook },
        detail: { summary: "Get a webhook (never its secret)" },
      },
    )
    .put(
      "/:webhook_id",
      ({ principal, params, body }) =>
        webhooks.update(principal.client, Number(params.webhook_id), body),
      {
        access: ["partner"],
        params: WebhookIdParams,
        body: WebhookUpdateRequest,
        response: { 200: WebhookUpdateResponse },
        detail: {
          summary: "Change a webhook; with rotate_secret: true the answer shows the new secret",
        },
      },
    )
    .delete(
      "/:webhook_id",
      ({ principal, params, set }) => {
        webhooks.remove(principal.client, Number(params.webhook_id));
        set.status = 204;
      },
      {
        access: ["partner"],
        params: WebhookIdParams,
        detail: { summary: "Delete a webhook with its delivery log and queued deliveries" },
      },
    )
    .get(
      "/:webhook_id/deliveries",
      ({ principal, params, query }) =>
        webhooks.deliveries(principal.client, Number(params.webhook_id), query),
      {
        access: ["partner"],
        params: WebhookIdParams,
        query: t.Object(PageQuery),
        response: { 200: WebhookDeliveryList },
        detail: { summary: "The webhook's delivery attempts, newest first" },
      },
    );
}
