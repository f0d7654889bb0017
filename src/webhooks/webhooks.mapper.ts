import { toIso } from "../clock.ts";
import type { WebhookDeliveryRow, WebhookRow } from "./webhooks.queries.ts";

/** Never the secret: that goes out only in the create and rotate answers, added there. */
export function toWebhook(row: WebhookRow) {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    events: row.events,
    active: row.active,
    disabled_reason: row.disabledReason,
    created_at: toIso(row.createdAt)!,
    updated_at: toIso(row.updatedAt)!,
    last_delivery_at: toIso(row.lastDeliveryAt),
    last_delivery_status: row.lastDeliveryStatus,
    consecutive_failures: row.consecutiveFailures,
  };
}

export type DeliveryOutcome = "delivered" | "retrying" | "failed" | "refused";

export function toDelivery(row: WebhookDeliveryRow) {
  return {
    id: row.id,
    event_id: row.eventId,
    event_type: row.eventType,
    attempt: row.attempt,
    outcome: row.outcome as DeliveryOutcome,
    response_status: row.responseStatus,
    error: row.error,
    response_excerpt: row.responseExcerpt,
    duration_ms: row.durationMs,
    attempted_at: toIso(row.attemptedAt)!,
  };
}
