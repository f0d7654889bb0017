import { and, desc, eq, lt, type SQL, sql } from "drizzle-orm";
import type { CaseSummaryRow } from "../cases/cases.queries.ts";
import type { Executor } from "../db/connection.ts";
import {
  cases,
  receipts,
  statusUpdates,
  users,
  webhookDeliveries,
  webhooks,
} from "../db/schema.ts";

export type WebhookRow = typeof webhooks.$inferSelect;
export type WebhookDraft = typeof webhooks.$inferInsert;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
export type WebhookDeliveryDraft = typeof webhookDeliveries.$inferInsert;

export function insertWebhook(db: Executor, draft: WebhookDraft): WebhookRow {
  return db.insert(webhooks).values(draft).returning().get();
}

/** A webhook only when it belongs to the partner: another partner's does not exist. */
export function findWebhook(
  db: Executor,
  clientId: number,
  webhookId: number,
): WebhookRow | undefined {
  return db
    .select()
    .from(webhooks)
    .where(and(eq(webhooks.id, webhookId), eq(webhooks.clientId, clientId)))
    .get();
}

/** For the sender, which acts for whichever partner queued the delivery. */
export function findWebhookById(db: Executor, webhookId: number): WebhookRow | undefined {
  return db.select().from(webhooks).where(eq(webhooks.id, webhookId)).get();
}

export function listWebhooks(
  db: Executor,
  clientId: number,
  filter: { beforeId?: number; limit: number },
): WebhookRow[] {
  const conditions: SQL[] = [eq(webhooks.clientId, clientId)];
  if (filter.beforeId !== undefined) conditions.push(lt(webhooks.id, filter.beforeId));
  return db
    .select()
    .from(webhooks)
    .where(and(...conditions))
    .orderBy(desc(webhooks.id))
    .limit(filter.limit + 1)
    .all();
}

export function updateWebhook(
  db: Executor,
  webhookId: number,
  values: Partial<Omit<WebhookDraft, "id" | "clientId">>,
): WebhookRow | undefined {
  return db.update(webhooks).set(values).where(eq(webhooks.id, webhookId)).returning().get();
}

export function deleteWebhook(db: Executor, webhookId: number): void {
  db.delete(webhooks).where(eq(webhooks.id, webhookId)).run();
}

/**
 * After an attempt: when and how it went, and the failures in a row (reset by a success). A
 * reason disables the webhook at once, as a 410 asks.
 */
export function recordDeliveryStats(
  db: Executor,
  webhookId: number,
  attempt: { outcome: string; at: number; disabledReason: string | null },
): void {
  const delivered = attempt.outcome === "delivered";
  db.update(webhooks)
    .set({
      lastDeliveryAt: attempt.at,
      lastDeliveryStatus: attempt.outcome,
      consecutiveFailures: delivered ? 0 : sql`${webhooks.consecutiveFailures} + 1`,
      ...(attempt.disabledReason !== null
        ? { active: false, disabledReason: attempt.disabledReason, updatedAt: attempt.at }
        : {}),
    })
    .where(eq(webhooks.id, webhookId))
    .run();
}

export function insertDelivery(db: Executor, draft: WebhookDeliveryDraft): WebhookDeliveryRow {
  return db.insert(webhookDeliveries).values(draft).returning().get();
}

export function listDeliveries(
  db: Executor,
  webhookId: number,
  filter: { beforeId?: number; limit: number },
): WebhookDeliveryRow[] {
  const conditions: SQL[] = [eq(webhookDeliveries.webhookId, webhookId)];
  if (filter.beforeId !== undefined) conditions.push(lt(webhookDeliveries.id, filter.beforeId));
  return db
    .select()
    .from(webhookDeliveries)
    .where(and(...conditions))
    .orderBy(desc(webhookDeliveries.id))
    .limit(filter.limit + 1)
    .all();
}

// ---- what events carry ------------------------------------------------------------------------

// Table names spelled out, as in receiptLastChecked: a bare "id" here would be the update's.
const updateCount = sql<number>`(select count(*) from "status_updates"
  where "status_updates"."case_id" = "cases"."id")`.mapWith(Number);

/** One case as its CaseSummary needs it, with the user it belongs to. */
export function findCaseSummary(
  db: Executor,
  caseId: number,
): (CaseSummaryRow & { clientId: number }) | undefined {
  return db
    .select({
      case: cases,
      clientId: users.clientId,
      lastChecked: receipts.lastCheckedAt,
      formType: statusUpdates.formType,
      statusCode: statusUpdates.statusCode,
      statusCategory: statusUpdates.category,
      statusUpdatedAt: statusUpdates.timestamp,
      updateCount,
    })
    .from(cases)
    .innerJoin(users, eq(users.id, cases.userId))
    .innerJoin(receipts, eq(receipts.receiptNumber, cases.receiptNumber))
    .leftJoin(statusUpdates, eq(statusUpdates.id, cases.lastStatusUpdateId))
    .where(eq(cases.id, caseId))
    .get();
}

export function findStatusUpdateById(db: Executor, statusUpdateId: number) {
  return db.select().from(statusUpdates).where(eq(statusUpdates.id, statusUpdateId)).get();
}
