import { sql } from "drizzle-orm";
import {
  index,
  integer,
  primaryKey,
  sqliteTable,
  text,
  uniqueIndex,
} from "drizzle-orm/sqlite-core";

// Every time is stored as integer milliseconds since the epoch (UTC) and formatted on the way out.
const createdAt = () => integer("created_at").notNull();
const updatedAt = () => integer("updated_at").notNull();

export const clients = sqliteTable("clients", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull(),
  contactEmail: text("contact_email").notNull(),
  logoUrl: text("logo_url"),
  apiKey: text("api_key").notNull().unique(),
  secretHash: text("secret_hash").notNull(),
  disabledAt: integer("disabled_at"),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const users = sqliteTable(
  "users",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    clientId: integer("client_id")
      .notNull()
      .references(() => clients.id, { onDelete: "cascade" }),
    email: text("email").notNull(),
    name: text("name"),
    phone: text("phone"),
    preferredLanguage: text("preferred_language", { enum: ["en", "es", "pt"] })
      .notNull()
      .default("en"),
    emailVerifiedAt: integer("email_verified_at"),
    notifyByEmail: integer("notify_by_email", { mode: "boolean" }).notNull().default(true),
    notifyByWhatsapp: integer("notify_by_whatsapp", { mode: "boolean" }).notNull().default(false),
    status: text("status", { enum: ["active", "disabled"] })
      .notNull()
      .default("active"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (table) => [uniqueIndex("users_client_email").on(table.clientId, table.email)],
);

/** Single-use tokens behind the link in a verification e-mail; only the hash is kept. */
export const emailTokens = sqliteTable(
  "email_tokens",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull().unique(),
    email: text("email").notNull(),
    expiresAt: integer("expires_at").notNull(),
    usedAt: integer("used_at"),
    createdAt: createdAt(),
  },
  (table) => [index("email_tokens_user").on(table.userId)],
);

/**
 * One row per receipt number, however many cases watch it: the checker fetches a receipt once
 * and fans the answer out to every case.
 */
export const receipts = sqliteTable(
  "receipts",
  {
    receiptNumber: text("receipt_number").primaryKey(),
    formType: text("form_type"),
    /**
     * observationDigest() of the last answer. Its text is not kept: what it says sits in the
     * status updates it caused, nothing reads it back, and a receipt row is read and rewritten
     * at every check, so it stays small.
     */
    observationDigest: text("observation_digest"),
    lastCheckedAt: integer("last_checked_at"),
    lastAttemptAt: integer("last_attempt_at"),
    nextCheckAt: integer("next_check_at").notNull(),
    /**
     * A case has just started (or resumed) watching this receipt: check it before anything
     * else so the case gets its first status update within one tick. A new row is one.
     */
    priority: integer("priority", { mode: "boolean" }).notNull().default(true),
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    lastError: text("last_error"),
    failingSince: integer("failing_since"),
    createdAt: createdAt(),
  },
  // The receipt number too, so due receipts come off the index in the order the checker takes
  // them, ties included: without it SQLite sorted every receipt due at one instant (a bulk
  // import, a backlog) to return the first few thousand, each tick.
  (table) => [index("receipts_due").on(table.priority, table.nextCheckAt, table.receiptNumber)],
);

export const cases = sqliteTable(
  "cases",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    receiptNumber: text("receipt_number")
      .notNull()
      .references(() => receipts.receiptNumber),
    userCaseId: text("user_case_id").notNull().unique(),
    description: text("description"),
    active: integer("active", { mode: "boolean" }).notNull().default(true),
    checkError: text("check_error"),
    lastStatusUpdateId: integer("last_status_update_id"),
    /**
     * Written by the checker only: the observationDigest() of an answer that its last status
     * update was found to cover (the answer it was written from, or a later one that changed
     * nothing), so the same answer again needs no comparison. Null until the first update.
     */
    observedDigest: text("observed_digest"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    /**
     * The owner's partner, copied from users: the back-office list walks cases_client newest
     * first and stops at its page instead of sorting every case of a partner's users. A user
     * never changes partner, so the copy never goes stale. It is a plain column (SQLite adds
     * no NOT NULL or REFERENCES column to a table that has rows, and rebuilding cases would
     * cascade into status_updates); the cases_client_id trigger of migration 0001 fills it
     * for any insert that leaves it out.
     */
    clientId: integer("client_id"),
  },
  (table) => [
    uniqueIndex("cases_user_receipt").on(table.userId, table.receiptNumber),
    index("cases_receipt").on(table.receiptNumber),
    index("cases_client").on(table.clientId, table.id),
    index("cases_user").on(table.userId, table.id),
  ],
);

export type NotifyStatus = "pending" | "sent" | "failed" | "skipped";

export const statusUpdates = sqliteTable(
  "status_updates",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    caseId: integer("case_id")
      .notNull()
      .references(() => cases.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ["initial", "status_changed", "record_updated"] }).notNull(),
    category: text("category").notNull(),
    statusCode: text("status_code").notNull(),
    statusDescription: text("status_description").notNull(),
    statusCodeEs: text("status_code_es"),
    statusDescriptionEs: text("status_description_es"),
    statusCodePt: text("status_code_pt").notNull(),
    statusDescriptionPt: text("status_description_pt").notNull(),
    formType: text("form_type"),
    detailMessage: text("detail_message").notNull(),
    submittedDate: integer("submitted_date"),
    modifiedDate: integer("modified_date"),
    history: text("history", { mode: "json" }).notNull(),
    timestamp: integer("timestamp").notNull(),
    notified: integer("notified").notNull().default(0),
    emailNotifyStatus: text("email_notify_status").$type<NotifyStatus>().notNull(),
    whatsappNotifyStatus: text("whatsapp_notify_status").$type<NotifyStatus>().notNull(),
    emailNotifyAttempts: integer("email_notify_attempts").notNull().default(0),
    whatsappNotifyAttempts: integer("whatsapp_notify_attempts").notNull().default(0),
    emailNotifyLastError: text("email_notify_last_error"),
    whatsappNotifyLastError: text("whatsapp_notify_last_error"),
    emailNotifySentAt: integer("email_notify_sent_at"),
    whatsappNotifySentAt: integer("whatsapp_notify_sent_at"),
  },
  (table) => [index("status_updates_case").on(table.caseId, table.id)],
);

/** USCIS calls per source and UTC day, persisted so a restart cannot reset the daily quota. */
export const usageCounters = sqliteTable(
  "usage_counters",
  {
    source: text("source").notNull(),
    day: text("day").notNull(),
    count: integer("count").notNull().default(0),
  },
  (table) => [primaryKey({ columns: [table.source, table.day] })],
);

/** Answers of POST /v1/check kept for ten minutes to spare the quota. */
export const checkCache = sqliteTable("check_cache", {
  receiptNumber: text("receipt_number").primaryKey(),
  answer: text("answer", { mode: "json" }).notNull(),
  fetchedAt: integer("fetched_at").notNull(),
});

export type OutboxChannel = "email" | "whatsapp" | "webhook";
export type OutboxState = "pending" | "in_flight" | "sent" | "failed" | "skipped";

/**
 * Messages to deliver, written in the same transaction as whatever caused them. A sender takes
 * a job by setting a lease; a crash lets the lease run out and the job is taken again.
 */
export const outboxJobs = sqliteTable(
  "outbox_jobs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    channel: text("channel").$type<OutboxChannel>().notNull(),
    /** "status_update", "verification", "login_code". */
    purpose: text("purpose").notNull(),
    /** Sent to Resend as Idempotency-Key; stable across every retry of the job. */
    idempotencyKey: text("idempotency_key").notNull().unique(),
    userId: integer("user_id").references(() => users.id, { onDelete: "cascade" }),
    statusUpdateId: integer("status_update_id").references(() => statusUpdates.id, {
      onDelete: "cascade",
    }),
    /** For webhook deliveries: the endpoint, and the event id sent as webhook-id. */
    webhookId: integer("webhook_id").references(() => webhooks.id, { onDelete: "cascade" }),
    eventId: text("event_id"),
    /** The rendered message; secrets in it are erased once the job is finished. */
    payload: text("payload", { mode: "json" }).notNull(),
    state: text("state").$type<OutboxState>().notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at").notNull(),
    leaseUntil: integer("lease_until"),
    /** Set just before a request leaves for the provider, so a crash can tell sent from not. */
    sendStartedAt: integer("send_started_at"),
    lastError: text("last_error"),
    providerMessageId: text("provider_message_id"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    finishedAt: integer("finished_at"),
  },
  (table) => [
    // Each channel's sender claims only its own jobs, oldest due first, so one channel's
    // backlog is never walked to find another's.
    index("outbox_due_by_channel").on(table.state, table.channel, table.nextAttemptAt),
    // Sign-in codes go before bulk mail; this finds the few due among thousands of e-mails.
    index("outbox_login_codes_due")
      .on(table.nextAttemptAt)
      .where(sql`state = 'pending' and purpose = 'login_code'`),
    index("outbox_user_channel").on(table.userId, table.channel, table.id),
    // Looked up only by a provider's id (a Twilio callback, a send that may have landed); every
    // pending job has none, and an entry for each of them was one more write per job enqueued.
    index("outbox_provider_message")
      .on(table.providerMessageId)
      .where(sql`${table.providerMessageId} is not null`),
  ],
);

/** A signed-in end user's bearer token; only its hash is kept. */
export const sessions = sqliteTable(
  "sessions",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull().unique(),
    expiresAt: integer("expires_at").notNull(),
    revokedAt: integer("revoked_at"),
    lastUsedAt: integer("last_used_at"),
    createdAt: createdAt(),
  },
  (table) => [index("sessions_user").on(table.userId)],
);

/** One-time sign-in codes: hashed, single-use, short-lived, with a count of wrong guesses. */
export const loginCodes = sqliteTable(
  "login_codes",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    codeHash: text("code_hash").notNull(),
    expiresAt: integer("expires_at").notNull(),
    attempts: integer("attempts").notNull().default(0),
    usedAt: integer("used_at"),
    createdAt: createdAt(),
  },
  (table) => [index("login_codes_user").on(table.userId, table.id)],
);

/**
 * A partner's webhook endpoint. The signing secret is kept as it is: HMAC signatures need it,
 * as at every webhook provider; it is shown to the partner once and never logged.
 */
export const webhooks = sqliteTable(
  "webhooks",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    clientId: integer("client_id")
      .notNull()
      .references(() => clients.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    description: text("description"),
    events: text("events", { mode: "json" }).$type<string[]>().notNull(),
    active: integer("active", { mode: "boolean" }).notNull().default(true),
    secret: text("secret").notNull(),
    lastDeliveryAt: integer("last_delivery_at"),
    lastDeliveryStatus: text("last_delivery_status"),
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    disabledReason: text("disabled_reason"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (table) => [index("webhooks_client").on(table.clientId)],
);

/** Every attempt to deliver an event to a webhook, with a short excerpt of the answer. */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    webhookId: integer("webhook_id")
      .notNull()
      .references(() => webhooks.id, { onDelete: "cascade" }),
    jobId: integer("job_id"),
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    attempt: integer("attempt").notNull(),
    /** "delivered", "retrying", "failed", "refused". */
    outcome: text("outcome").notNull(),
    responseStatus: integer("response_status"),
    error: text("error"),
    responseExcerpt: text("response_excerpt"),
    durationMs: integer("duration_ms"),
    attemptedAt: integer("attempted_at").notNull(),
  },
  (table) => [index("webhook_deliveries_webhook").on(table.webhookId, table.id)],
);
