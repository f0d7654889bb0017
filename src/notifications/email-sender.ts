import type { CreateEmailOptions, ErrorResponse, Resend } from "resend";
import { type Clock, systemClock } from "../clock.ts";
import type { Config } from "../config.ts";
import { type Logger, maskEmail } from "../logger.ts";
import type { DeliveryResult, EmailMessage, EmailSender } from "../outbox/types.ts";
import { createSpacingLimiter } from "../pacing/spacing-limiter.ts";

/**
 * E-mail through Resend, with the official SDK doing the HTTP. The outbox owns retries and
 * backoff; this module makes one attempt per call, paced, and says what it came to.
 */

export interface ResendSenderOptions {
  apiKey: string;
  /** Resend's API origin; a fake's address in tests. Empty means the SDK's own default. */
  baseUrl?: string;
  /** "Name <address>" or an address on a domain verified in Resend. */
  from: string;
  replyTo?: string;
  /** Resend refuses a team's requests above its limit (2 a second unless raised). */
  ratePerSecond?: number;
  logger: Logger;
  clock?: Clock;
  /** A request with no answer by then is abandoned and reported as retryable. */
  timeoutMs?: number;
}

const DefaultRatePerSecond = 2;
const DefaultTimeoutMs = 15_000;
const MaxErrorLength = 200;

/**
 * Names Resend (or the SDK) uses for conditions that clear with time. Everything else with a
 * 4xx status is a request that would be refused again unchanged.
 */
const RetryableNames = new Set([
  "rate_limit_exceeded",
  "daily_quota_exceeded",
  "monthly_quota_exceeded",
  // The first request with this key is still being processed; asking again later gets its
  // answer, not a second e-mail.
  "concurrent_idempotent_requests",
  "internal_server_error",
  // The SDK's name for no response at all (network, timeout) and for a body that is not JSON.
  "application_error",
]);

/** Resend's error as the SDK hands it over, loosened: a proxy may answer anything at all. */
export interface ProviderError {
  name: string;
  statusCode: number | null;
  message: string;
}

export function createResendSender(options: ResendSenderOptions): EmailSender {
  const clock = options.clock ?? systemClock;
  const timeoutMs = options.timeoutMs ?? DefaultTimeoutMs;
  const perSecond = options.ratePerSecond ?? DefaultRatePerSecond;
  // The clock counts whole milliseconds, so spacing finer than one cannot be kept: the limiter
  // would make it a 1 ms wait per e-mail in line, a ceiling near 1,000 a second whatever the
  // rate asked for. Above that, pacing is lifted altogether.
  const limiter =
    perSecond > 1000 ? { acquire: async () => {} } : createSpacingLimiter({ perSecond, clock });
  // Loaded with the first e-mail, like the Twilio SDK: start-up does not wait for it.
  let client: Promise<Resend> | undefined;
  const resend = () =>
    (client ??= import("resend").then(
      // Passing the base URL keeps the SDK from falling back to RESEND_BASE_URL behind the back
      // of config.ts, which already read and validated it.
      (sdk) => new sdk.Resend(options.apiKey, options.baseUrl ? { baseUrl: options.baseUrl } : {}),
    ));
  // Resend's messages sometimes quote the request; the error text goes to the log and the
  // outbox row, where neither a key nor a full address may appear.
  const scrub = (text: string, recipient: string) => {
    let clean = options.apiKey ? text.replaceAll(options.apiKey, "[redacted]") : text;
    if (recipient) clean = clean.replaceAll(recipient, maskEmail(recipient));
    return clean.slice(0, MaxErrorLength);
  };

  async function attempt(message: EmailMessage, idempotencyKey: string): Promise<DeliveryResult> {
    const payload: CreateEmailOptions = {
      from: options.from,
      to: message.to,
      subject: message.subject,
      html: message.html,
      text: message.text,
      ...(options.replyTo ? { replyTo: options.replyTo } : {}),
    };
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      // The same key on every attempt: Resend answers a repeat within 24 hours with the first
      // e-mail's id instead of sending it again, so a lost answer is safe to retry.
      const { data, error, headers } = await (await resend()).emails.send(payload, {
        idempotencyKey,
        signal,
      });
      if (error) {
        const result = classifyResendError(error, headers, clock.now());
        return signal.aborted && error.statusCode === null
          ? { outcome: "retry", error: `timeout: no answer from Resend in ${timeoutMs} ms` }
          : { ...result, error: scrub(result.error, message.to) };
      }
      return { outcome: "sent", providerMessageId: data.id };
    } catch (thrown) {
      // The SDK turns failures into `{ error }`, but a future version or a runtime quirk may
      // throw instead. Whether Resend got it is unknown, and the key makes another try safe.
      const reason = thrown instanceof Error ? thrown.message : String(thrown);
      return { outcome: "retry", error: scrub(`network error: ${reason}`, message.to) };
    }
  }

  return {
    ratePerSecond: perSecond > 1000 ? undefined : perSecond,
    async send(message, idempotencyKey) {
      await limiter.acquire();
      const startedAt = clock.now();
      const result = await attempt(message, idempotencyKey);
      logDelivery(options.logger, message, idempotencyKey, result, clock.now() - startedAt);
      return result;
    },
  };
}

/**
 * Maps Resend's `{ name, statusCode, message }` (and its headers) to what the outbox should do.
 * The status decides first, since a proxy in front of Resend may answer with a name that
 * means nothing; the name settles the cases a status cannot (two kinds of 409).
 */
export function classifyResendError(
  error: ProviderError | ErrorResponse,
  headers: Record<string, string> | null,
  now: number,
): Extract<DeliveryResult, { outcome: "retry" | "failed" }> {
  const status = error.statusCode;
  const text = `${error.name} (${status ?? "no response"}): ${error.message}`;

  if (status === null) return { outcome: "retry", error: text };
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(headers?.["retry-after"], now);
    return retryAfterMs === undefined
      ? { outcome: "retry", error: text }
      : { outcome: "retry", error: text, retryAfterMs };
  }
  if (status >= 500 || status === 408) return { outcome: "retry", error: text };
  if (status >= 400) {
    return error.name === "concurrent_idempotent_requests"
      ? { outcome: "retry", error: text }
      : { outcome: "failed", error: text };
  }
  return RetryableNames.has(error.name)
    ? { outcome: "retry", error: text }
    : { outcome: "failed", error: text };
}

/** Retry-After is either whole seconds or an HTTP date (RFC 9110, section 10.2.3). */
function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? Math.ceil(seconds * 1000) : undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function logDelivery(
  logger: Logger,
  message: EmailMessage,
  idempotencyKey: string,
  result: DeliveryResult,
  durationMs: number,
) {
  const fields = {
    channel: "email",
    provider: "resend",
    to: maskEmail(message.to),
    idempotency_key: idempotencyKey,
    outcome: result.outcome,
    duration_ms: Math.round(durationMs),
    ...(result.outcome === "sent" && { provider_message_id: result.providerMessageId }),
    ...(result.outcome === "retry" && {
      error: result.error,
      ...(result.retryAfterMs !== undefined && { retry_after_ms: result.retryAfterMs }),
    }),
    ...(result.outcome === "failed" && { error: result.error }),
  };
  if (result.outcome === "failed") logger.error(fields, "e-mail delivery");
  else if (result.outcome === "retry") logger.warn(fields, "e-mail delivery");
  else logger.info(fields, "e-mail delivery");
}

/**
 * With no Resend key, a local run still shows what would have been sent. Secrets inside the
 * message are the outbox's to redact before it gets here.
 */
export function createLogEmailSender(logger: Logger): EmailSender {
  const reason = "no e-mail provider configured";
  return {
    async send(message, idempotencyKey, secrets = []) {
      const hide = (text: string) =>
        secrets.reduce((out, secret) => out.replaceAll(secret, "[redacted]"), text);
      logger.info(
        {
          channel: "email",
          to: maskEmail(message.to),
          idempotency_key: idempotencyKey,
          outcome: "skipped",
          subject: hide(message.subject),
          text: hide(message.text),
        },
        `e-mail not sent: ${reason}`,
      );
      return { outcome: "skipped", reason };
    },
  };
}

export type EmailSettings = Pick<
  Config,
  "resendApiKey" | "resendBaseUrl" | "emailFrom" | "emailReplyTo" | "emailRatePerSecond"
>;

export function createEmailSender(config: EmailSettings, logger: Logger): EmailSender {
  if (!config.resendApiKey) return createLogEmailSender(logger);
  return createResendSender({
    apiKey: config.resendApiKey,
    baseUrl: config.resendBaseUrl,
    from: config.emailFrom,
    replyTo: config.emailReplyTo,
    ratePerSecond: config.emailRatePerSecond,
    logger,
  });
}
