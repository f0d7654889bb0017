import { and, eq, sql } from "drizzle-orm";
import type { Executor } from "../db/connection.ts";
import { prepared } from "../db/prepared.ts";
import { webhooks } from "../db/schema.ts";
import { sortableId } from "../http/ids.ts";
import { enqueue } from "../outbox/outbox.ts";

export const EventTypes = [
  "case.created",
  "case.status_changed",
  "case.record_updated",
  "case.check_failing",
  "case.deleted",
  "user.created",
  "user.updated",
  "user.email_verified",
  "user.deleted",
  "notification.failed",
] as const;

export type EventType = (typeof EventTypes)[number];

const activeEndpoints = (db: Executor) =>
  db
    .select({ id: webhooks.id, events: webhooks.events })
    .from(webhooks)
    .where(and(eq(webhooks.clientId, sql.placeholder("clientId")), eq(webhooks.active, true)))
    .prepare();

/**
 * Records that something happened to a partner's data: one webhook delivery per active
 * endpoint that subscribed to it, written into the outbox in the caller's transaction, so an
 * event is delivered exactly when the change it reports was committed.
 */
export function emitEvent(
  tx: Executor,
  event: { clientId: number; type: EventType; data: Record<string, unknown>; now: number },
): string | null {
  const endpoints = prepared(tx, activeEndpoints)
    .all({ clientId: event.clientId })
    .filter((endpoint) => endpoint.events.includes("*") || endpoint.events.includes(event.type));
  if (endpoints.length === 0) return null;

  const id = sortableId("evt_", event.now);
  const body = {
    id,
    type: event.type,
    created_at: new Date(event.now).toISOString(),
    data: event.data,
  };
  for (const endpoint of endpoints) {
    enqueue(
      tx,
      {
        purpose: "webhook_event",
        userId: null,
        statusUpdateId: null,
        webhookId: endpoint.id,
        eventId: id,
      },
      { channel: "webhook", event: body },
      event.now,
    );
  }
  return id;
}
