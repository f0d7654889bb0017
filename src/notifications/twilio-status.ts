import { and, eq } from "drizzle-orm";
// The webhooks module alone, not the SDK: the SDK is loaded on the first WhatsApp send.
import { validateRequest } from "twilio/lib/webhooks/webhooks";
import type { Clock } from "../clock.ts";
import type { Db, Executor } from "../db/connection.ts";
import { outboxJobs } from "../db/schema.ts";
import { type Logger, maskPhone } from "../logger.ts";
import {
  findJobByProviderMessage,
  findStatusUpdate,
  type OutboxJobRow,
  turnWhatsAppOff,
  updateJob,
  updateStatusUpdateFields,
} from "../outbox/outbox.queries.ts";
import { UnknownWhatsAppOutcome } from "../outbox/worker.ts";
import { emitNotificationFailed } from "../webhooks/webhook-events.ts";

/** Where Twilio posts message status callbacks; the sender asks for them at this path. */
export const TwilioStatusPath = "/v1/providers/twilio/status";

export interface TwilioStatusDeps {
  db: Db;
  /** TWILIO_AUTH_TOKEN: the key of the callbacks' HMAC. Empty refuses every callback. */
  authToken: string;
  /** PUBLIC_BASE_URL: Twilio signs the URL it was given, not the one the request arrived on. */
  publicBaseUrl: string;
  logger: Logger;
  clock: Clock;
}

/** What a callback came to, for the log and the tests. */
export type CallbackOutcome =
  /** No WhatsApp job of ours has this MessageSid (or the callback named none). */
  | "unknown_message"
  /** failed or undelivered: the job and its status update are now failed. */
  | "failure_recorded"
  /** delivered or read settled a job that had no final answer yet. */
  | "delivery_confirmed"
  /** A success arriving after a failure: callbacks come out of order, the failure stands. */
  | "failure_kept"
  /** queued, sent, accepted...: nothing the outbox has not already recorded. */
  | "no_change";

/** Twilio's meaning of the codes a WhatsApp callback carries, for when it sends no message. */
const KnownErrors: Record<string, string> = {
  "21610": "the recipient has opted out (replied STOP)",
  "30003": "unreachable destination handset",
  "30007": "message filtered by the carrier",
  "30008": "unknown error",
  "63003": "the number is not on WhatsApp or cannot be reached",
  "63005": "WhatsApp did not accept the content",
  "63012": "WhatsApp returned an internal service error",
  "63013": "the message violates a WhatsApp policy",
  "63016": "outside the 24-hour window free-form messages are not allowed; a template is needed",
  "63018": "rate limit exceeded for the WhatsApp sender",
  "63021": "WhatsApp refused the content",
  "63024": "invalid message recipient",
  "63027": "the template does not exist for this language",
  "63028": "the number of template variables does not match the template",
  "63049": "Meta chose not to deliver this message",
};

const OptedOutCode = "21610";

export function createTwilioStatusService(deps: TwilioStatusDeps) {
  const { db, logger, clock } = deps;

  /**
   * Twilio signs PUBLIC_BASE_URL + path + query with the POST parameters (sorted) under
   * HMAC-SHA1 keyed by the auth token. With no token every callback is refused: an HMAC under
   * an empty key is one anybody can compute.
   */
  function authentic(
    signature: string | null | undefined,
    search: string,
    params: Record<string, string>,
  ): boolean {
    if (!deps.authToken || !signature) return false;
    const url = `${deps.publicBaseUrl}${TwilioStatusPath}${search}`;
    return validateRequest(deps.authToken, signature, url, params);
  }

  /** Applies one authentic callback. `jobKey` is the `job` query parameter the sender added. */
  function record(params: Record<string, string>, jobKey: string | null): CallbackOutcome {
    const messageSid = params.MessageSid ?? params.SmsSid ?? "";
    const status = (params.MessageStatus ?? params.SmsStatus ?? "").toLowerCase();
    const errorCode = params.ErrorCode?.trim() || null;
    const now = clock.now();

    const outcome = db.transaction((tx) => {
      const job = messageSid ? findJob(tx, messageSid, jobKey) : undefined;
      if (!job) return "unknown_message" as const;
      if (status === "failed" || status === "undelivered") {
        recordFailure(tx, job, messageSid, describe(status, errorCode, params.ErrorMessage), now);
        if (errorCode === OptedOutCode && job.userId !== null) turnWhatsAppOff(tx, job.userId, now);
        return "failure_recorded" as const;
      }
      if (status === "delivered" || status === "read") {
        if (job.state === "failed" && job.lastError !== UnknownWhatsAppOutcome) {
          return "failure_kept" as const;
        }
        confirmDelivery(tx, job, messageSid, now);
        return "delivery_confirmed" as const;
      }
      return "no_change" as const;
    });

    logger.info(
      {
        channel: "whatsapp",
        message_sid: messageSid || undefined,
        message_status: status || undefined,
        error_code: errorCode ?? undefined,
        outcome,
      },
      "twilio status callback",
    );
    return outcome;
  }

  return { authentic, record };
}

export type TwilioStatusService = ReturnType<typeof createTwilioStatusService>;

/**
 * By MessageSid first. The job key covers a callback for a message whose SID we never wrote
 * down, and only then: a job that already has another SID is not this message's.
 */
function findJob(db: Executor, messageSid: string, jobKey: string | null) {
  const bySid = findJobByProviderMessage(db, "whatsapp", messageSid);
  if (bySid || !jobKey) return bySid;
  const byKey = db
    .select()
    .from(outboxJobs)
    .where(and(eq(outboxJobs.idempotencyKey, jobKey), eq(outboxJobs.channel, "whatsapp")))
    .get();
  return byKey && byKey.providerMessageId === null ? byKey : undefined;
}

function recordFailure(
  db: Executor,
  job: OutboxJobRow,
  messageSid: string,
  error: string,
  now: number,
): void {
  const alreadyFailed = job.state === "failed";
  const failed = updateJob(db, job.id, {
    state: "failed",
    providerMessageId: messageSid,
    leaseUntil: null,
    lastError: error,
    finishedAt: job.finishedAt ?? now,
    updatedAt: now,
  });
  writeWhatsAppFields(db, job.statusUpdateId, {
    whatsappNotifyStatus: "failed",
    whatsappNotifyLastError: error,
    whatsappNotifySentAt: null,
  });
  // A failure Twilio reports later is as much news to the partner as one at sending time.
  if (failed && !alreadyFailed) emitNotificationFailed(db, failed, now);
}

function confirmDelivery(db: Executor, job: OutboxJobRow, messageSid: string, now: number): void {
  updateJob(db, job.id, {
    state: "sent",
    providerMessageId: messageSid,
    leaseUntil: null,
    lastError: null,
    finishedAt: job.finishedAt ?? now,
    updatedAt: now,
  });
  if (job.statusUpdateId === null) return;
  const update = findStatusUpdate(db, job.statusUpdateId);
  writeWhatsAppFields(db, job.statusUpdateId, {
    whatsappNotifyStatus: "sent",
    whatsappNotifyLastError: null,
    whatsappNotifySentAt: update?.whatsappNotifySentAt ?? now,
  });
}

/** The WhatsApp fields of a status update, with `notified` following both channels. */
function writeWhatsAppFields(
  db: Executor,
  statusUpdateId: number | null,
  fields: {
    whatsappNotifyStatus: "sent" | "failed";
    whatsappNotifyLastError: string | null;
    whatsappNotifySentAt: number | null;
  },
): void {
  if (statusUpdateId === null) return;
  const update = findStatusUpdate(db, statusUpdateId);
  if (!update) return;
  const notified = update.emailNotifyStatus === "sent" || fields.whatsappNotifyStatus === "sent";
  updateStatusUpdateFields(db, statusUpdateId, { ...fields, notified: notified ? 1 : 0 });
}

/** "Twilio 63016: <Twilio's message or what the code means>", as API.md shows the error. */
function describe(status: string, code: string | null, message: string | undefined): string {
  const detail = message?.trim() ? maskNumbersIn(message.trim()) : undefined;
  if (!code) return `Twilio: message ${status}${detail ? ` (${detail})` : ""}`;
  return `Twilio ${code}: ${detail ?? KnownErrors[code] ?? `message ${status}`}`;
}

/**
 * Twilio's messages quote numbers ("The 'To' number whatsapp:+1555... is not valid"), and an
 * error ends up in logs, where a full phone number must never appear. Long text is cut.
 */
export function maskNumbersIn(text: string): string {
  const masked = text.replace(/\+?[0-9][0-9 ()-]{6,}[0-9]/g, (number) =>
    maskPhone(number.replace(/[^0-9+]/g, "")),
  );
  return masked.length > 300 ? `${masked.slice(0, 297)}...` : masked;
}
