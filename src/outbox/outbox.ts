import type { Db, Executor } from "../db/connection.ts";
import type { NotifyStatus } from "../db/schema.ts";
import { sortableId } from "../http/ids.ts";
import { emitNotificationFailed } from "../webhooks/webhook-events.ts";
import {
  insertJob,
  type OutboxJobRow,
  type OutcomeStatements,
  outcomeStatements,
  turnWhatsAppOff,
  updateJob,
} from "./outbox.queries.ts";
import type { DeliveryResult, EmailMessage, WebhookEvent, WhatsAppMessage } from "./types.ts";

export type JobPayload =
  | { channel: "email"; message: EmailMessage; redact?: string[] }
  | { channel: "whatsapp"; message: WhatsAppMessage }
  | { channel: "webhook"; event: WebhookEvent };

export interface JobOrigin {
  purpose: "status_update" | "verification" | "login_code" | "webhook_event";
  userId: number | null;
  statusUpdateId: number | null;
  webhookId?: number | null;
  eventId?: string | null;
}

/**
 * How long a job keeps being retried through an outage before it is given up. Resend keeps an
 * Idempotency-Key for 24 hours; a retry after that could deliver an e-mail a second time.
 */
export const GiveUpAfterMs = 23 * 60 * 60 * 1000;
const FirstRetryMs = 15_000;
const MaxRetryMs = 15 * 60 * 1000;

/** Writes a job; call it inside the transaction that makes the message necessary. */
export function enqueue(tx: Executor, origin: JobOrigin, payload: JobPayload, now: number) {
  return insertJob(tx, {
    channel: payload.channel,
    purpose: origin.purpose,
    idempotencyKey: sortableId("job_", now),
    userId: origin.userId,
    statusUpdateId: origin.statusUpdateId,
    webhookId: origin.webhookId ?? null,
    eventId: origin.eventId ?? null,
    payload,
    nextAttemptAt: now,
    createdAt: now,
    updatedAt: now,
  });
}

/** 15 s, 30 s, 1 min... up to 15 min, each spread by a fifth so retries do not arrive together. */
export function retryDelayMs(attempts: number, random = Math.random): number {
  const base = Math.min(MaxRetryMs, FirstRetryMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** API.md's schedule for webhooks: after the last of these, the delivery has failed. */
export const WebhookRetryScheduleMs = [
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3600_000,
  5 * 3600_000,
  10 * 3600_000,
  10 * 3600_000,
];

/** When to try again, or null when this channel's retries are spent. */
function nextRetryDelay(job: OutboxJobRow, now: number, random: () => number): number | null {
  if (job.channel === "webhook") {
    const delay = WebhookRetryScheduleMs[job.attempts - 1];
    return delay === undefined ? null : Math.round(delay * (0.9 + 0.2 * random()));
  }
  if (now - job.createdAt >= GiveUpAfterMs) return null;
  return retryDelayMs(job.attempts, random);
}

type Finished = Exclude<DeliveryResult, { outcome: "retry" }>;

/**
 * Writes what a delivery attempt came to: the job's new state and, for a status update's
 * message, the channel's `*_notify_*` fields. One transaction, so the two never disagree.
 */
export function recordOutcome(
  db: Db,
  job: OutboxJobRow,
  result: DeliveryResult,
  now: number,
  random = Math.random,
): OutboxJobRow {
  const statements = outcomeStatements(db);
  return db.transaction((tx) => recordOutcomeIn(tx, statements, job, result, now, random));
}

/**
 * recordOutcome inside a transaction the caller holds, so several outcomes can share one
 * commit. `statements` are the database's own (outcomeStatements), run on that transaction.
 */
export function recordOutcomeIn(
  tx: Executor,
  statements: OutcomeStatements,
  job: OutboxJobRow,
  result: DeliveryResult,
  now: number,
  random: () => number = Math.random,
): OutboxJobRow {
  // A Twilio status callback can report a failure before the sender has written down that
  // Twilio accepted the message; that failure is the later news and stands.
  const current = statements.current.get({ id: job.id });
  // Gone while it was being delivered, with its user or its webhook: nothing left to record.
  if (!current) return job;
  if (current.state === "failed" && result.outcome === "sent") {
    return updateJob(tx, job.id, {
      providerMessageId: result.providerMessageId ?? current.providerMessageId,
      updatedAt: now,
    })!;
  }
  const retryIn = result.outcome === "retry" ? nextRetryDelay(job, now, random) : null;
  const final = asFinal(job, result, retryIn);
  if (!final) {
    const retry = result as Extract<DeliveryResult, { outcome: "retry" }>;
    const delay = Math.max(retry.retryAfterMs ?? 0, retryIn ?? 0);
    const values = {
      state: "pending" as const,
      leaseUntil: null,
      sendStartedAt: retry.sendStartedAt ?? null,
      nextAttemptAt: now + delay,
      lastError: retry.error,
      updatedAt: now,
    };
    statements.retry.run({ id: job.id, ...values });
    const updated = { ...job, ...values };
    writeChannelFields(statements, updated, "pending", retry.error, null);
    return updated;
  }

  const state = final.outcome;
  const error = final.outcome === "failed" ? final.error : null;
  const reason = final.outcome === "skipped" ? final.reason : error;
  const payload = erased(job.payload as JobPayload);
  const values = {
    state,
    leaseUntil: null,
    lastError: reason,
    providerMessageId:
      final.outcome === "sent" ? (final.providerMessageId ?? job.providerMessageId) : null,
    payload,
    finishedAt: now,
    updatedAt: now,
  };
  statements.finish.run({
    id: job.id,
    now,
    state,
    lastError: reason,
    providerMessageId: values.providerMessageId,
  });
  // Most payloads hold no secret; writing them out again unchanged cost a JSON encoding each.
  if (payload !== job.payload) {
    statements.erase.run({ id: job.id, payload: JSON.stringify(payload) });
  }
  const updated: OutboxJobRow = { ...job, ...values };
  if (final.outcome === "failed" && final.optedOut && job.userId !== null) {
    turnWhatsAppOff(tx, job.userId, now);
  }
  writeChannelFields(statements, updated, state, reason, state === "sent" ? now : null);
  if (state === "failed") emitNotificationFailed(tx, updated, now);
  return updated;
}

/** A retry with no retries left is a failure; anything else stands as it came. */
function asFinal(
  job: OutboxJobRow,
  result: DeliveryResult,
  retryIn: number | null,
): Finished | null {
  if (result.outcome !== "retry") return result;
  if (retryIn !== null) return null;
  const spent =
    job.channel === "webhook" ? `gave up after ${job.attempts} attempts` : "gave up after 23 hours";
  return { outcome: "failed", error: `${spent}; last error: ${result.error}` };
}

/** Once a job is finished its secrets (a sign-in code, a verification link) are not kept. */
function erased(payload: JobPayload): JobPayload {
  if (payload.channel !== "email" || !payload.redact?.length) return payload;
  const hide = (text: string) =>
    payload.redact!.reduce((out, secret) => out.replaceAll(secret, "[redacted]"), text);
  return {
    channel: "email",
    message: {
      ...payload.message,
      subject: hide(payload.message.subject),
      html: hide(payload.message.html),
      text: hide(payload.message.text),
    },
  };
}

function writeChannelFields(
  statements: OutcomeStatements,
  job: OutboxJobRow,
  status: NotifyStatus,
  lastError: string | null,
  sentAt: number | null,
): void {
  if (job.statusUpdateId === null) return;
  const write = job.channel === "email" ? statements.notifyEmail : statements.notifyWhatsapp;
  write.run({ id: job.statusUpdateId, status, attempts: job.attempts, lastError, sentAt });
}
