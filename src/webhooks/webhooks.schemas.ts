import { t } from "elysia";
import { EventTypes } from "../events/events.ts";
import { IdParam } from "../http/ids.ts";
import { oneOf, plainText } from "../http/schema.ts";
import { MaxUrlLength } from "./ssrf-guard.ts";

const Timestamp = t.String({ examples: ["2026-05-04T13:02:11.000Z"] });

export const EventName = oneOf([...EventTypes, "*"]);

const Url = t.String({
  minLength: 1,
  maxLength: MaxUrlLength,
  examples: ["https://hooks.partner.example/immigraflow"],
});
const Events = t.Array(EventName, { minItems: 1, maxItems: EventTypes.length + 1 });
const Description = plainText({ maxLength: 200 });

const WebhookFields = {
  id: t.Integer(),
  url: t.String(),
  description: t.Nullable(t.String()),
  events: t.Array(t.String()),
  active: t.Boolean(),
  /** Why the service turned the webhook off (such as a 410 answer); null otherwise. */
  disabled_reason: t.Nullable(t.String()),
  created_at: Timestamp,
  updated_at: Timestamp,
  last_delivery_at: t.Nullable(Timestamp),
  last_delivery_status: t.Nullable(t.String()),
  consecutive_failures: t.Integer(),
};

export const Webhook = t.Object(WebhookFields, { $id: "#/components/schemas/Webhook" });

/** The answer to create and to a rotation: the only times the signing secret is shown. */
export const WebhookWithSecret = t.Object({
  ...WebhookFields,
  secret: t.String({ description: "whsec_ + base64; shown once, keep it safe" }),
});

export const WebhookUpdateResponse = t.Object({
  ...WebhookFields,
  secret: t.Optional(t.String({ description: "only when rotate_secret was true" })),
});

export const WebhookCreateRequest = t.Object(
  {
    url: Url,
    events: t.Optional(Events),
    description: t.Optional(t.Nullable(Description)),
    active: t.Optional(t.Boolean()),
  },
  { additionalProperties: false },
);

export const WebhookUpdateRequest = t.Object(
  {
    url: t.Optional(Url),
    events: t.Optional(Events),
    description: t.Optional(t.Nullable(Description)),
    active: t.Optional(t.Boolean()),
    rotate_secret: t.Optional(t.Boolean()),
  },
  { additionalProperties: false },
);

export const WebhookList = t.Object({
  webhooks: t.Array(Webhook),
  next_cursor: t.Nullable(t.String()),
});

export const WebhookDelivery = t.Object({
  id: t.Integer(),
  event_id: t.String(),
  event_type: t.String(),
  attempt: t.Integer(),
  outcome: oneOf(["delivered", "retrying", "failed", "refused"]),
  response_status: t.Nullable(t.Integer()),
  error: t.Nullable(t.String()),
  response_excerpt: t.Nullable(t.String()),
  duration_ms: t.Nullable(t.Integer()),
  attempted_at: Timestamp,
});

export const WebhookDeliveryList = t.Object({
  deliveries: t.Array(WebhookDelivery),
  next_cursor: t.Nullable(t.String()),
});

export const WebhookIdParams = t.Object({ webhook_id: IdParam });

export type WebhookCreateInput = typeof WebhookCreateRequest.static;
export type WebhookUpdateInput = typeof WebhookUpdateRequest.static;
