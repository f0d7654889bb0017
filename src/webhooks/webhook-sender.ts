import type { Clock } from "../clock.ts";
import type { Db } from "../db/connection.ts";
import { WebhookRetryScheduleMs } from "../outbox/outbox.ts";
import type { DeliveryResult, WebhookDelivery, WebhookSender } from "../outbox/types.ts";
import { Version } from "../version.ts";
import { signatureHeader } from "./signature.ts";
import { type Resolver, type VettedUrl, vetWebhookUrl } from "./ssrf-guard.ts";
import type { DeliveryOutcome } from "./webhooks.mapper.ts";
import {
  findWebhookById,
  insertDelivery,
  recordDeliveryStats,
  type WebhookRow,
} from "./webhooks.queries.ts";

/** API.md: any 2xx within 15 s is a success. */
export const DeliveryTimeoutMs = 15_000;
/** Enough of an answer to show what the endpoint said, without reading whatever it streams. */
const ExcerptReadBytes = 1024;
const ExcerptChars = 512;

export interface WebhookSenderOptions {
  db: Db;
  clock: Clock;
  allowPrivate: boolean;
  allowHttp: boolean;
  timeoutMs?: number;
  resolve?: Resolver;
  /** Extra CA certificates (PEM) to trust: for tests that run their own TLS receiver. */
  ca?: string;
}

type Vetted = Extract<VettedUrl, { ok: true }>;

interface Exchange {
  status: number | null;
  error: string | null;
  excerpt: string | null;
  durationMs: number;
}

interface Verdict {
  result: DeliveryResult;
  outcome: DeliveryOutcome;
  /** Set when the endpoint asked never to be called again. */
  disable?: string;
}

export function createWebhookSender(options: WebhookSenderOptions): WebhookSender {
  const { db, clock } = options;
  const timeoutMs = options.timeoutMs ?? DeliveryTimeoutMs;
  const guard = {
    allowPrivate: options.allowPrivate,
    allowHttp: options.allowHttp,
    resolve: options.resolve,
  };

  /** One transaction: the attempt's row and the webhook's counters never disagree. */
  function record(
    delivery: WebhookDelivery,
    verdict: Verdict,
    exchange: Partial<Exchange>,
    countsAsAttempt: boolean,
  ): void {
    const now = clock.now();
    db.transaction((tx) => {
      // Deleted while we were waiting on its endpoint: its log went with it.
      if (!findWebhookById(tx, delivery.webhookId)) return;
      insertDelivery(tx, {
        webhookId: delivery.webhookId,
        jobId: delivery.jobId,
        eventId: delivery.event.id,
        eventType: delivery.event.type,
        attempt: delivery.attempt,
        outcome: verdict.outcome,
        responseStatus: exchange.status ?? null,
        error: errorOf(verdict.result),
        responseExcerpt: exchange.excerpt ?? null,
        durationMs: exchange.durationMs ?? null,
        attemptedAt: now,
      });
      if (countsAsAttempt) {
        recordDeliveryStats(tx, delivery.webhookId, {
          outcome: verdict.outcome,
          at: now,
          disabledReason: verdict.disable ?? null,
        });
      }
    });
  }

  async function post(webhook: WebhookRow, vetted: Vetted, delivery: WebhookDelivery) {
    // Exactly these bytes are signed and sent; partners verify the raw body.
    const body = JSON.stringify(delivery.event);
    const timestamp = Math.floor(clock.now() / 1000);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": `ImmigraFlow-Webhooks/${Version}`,
      "webhook-id": delivery.event.id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": signatureHeader(webhook.secret, delivery.event.id, timestamp, body),
      host: vetted.url.host,
    };
    return exchange(pinned(vetted), headers, body, tlsFor(vetted, options.ca), timeoutMs);
  }

  return {
    async send(delivery) {
      const webhook = findWebhookById(db, delivery.webhookId);
      if (!webhook) return { outcome: "failed", error: "webhook deleted" };
      if (!webhook.active) {
        const disabled: Verdict = {
          result: { outcome: "failed", error: "webhook disabled" },
          outcome: "failed",
        };
        record(delivery, disabled, {}, false);
        return disabled.result;
      }

      // Vetted again now, not only when saved: DNS and the operator's settings may have moved.
      const vetted = await vetWebhookUrl(webhook.url, guard);
      if (!vetted.ok) {
        const verdict = refusal(vetted, delivery.attempt);
        record(delivery, verdict, {}, true);
        return verdict.result;
      }

      const answer = await post(webhook, vetted, delivery);
      const verdict = judge(answer, delivery.attempt);
      record(delivery, verdict, answer, true);
      return verdict.result;
    },
  };
}

function errorOf(result: DeliveryResult): string | null {
  if (result.outcome === "sent") return null;
  return result.outcome === "skipped" ? result.reason : result.error;
}

function vettingError(vetted: Extract<VettedUrl, { ok: false }>): string {
  return `url ${vetted.reason}`;
}

/** A name that does not resolve may come back; an address we refuse will not become ours. */
function refusal(vetted: Extract<VettedUrl, { ok: false }>, attempt: number): Verdict {
  const error = vettingError(vetted);
  if (vetted.issue === "unresolvable") return retryOrFail(error, attempt);
  return { result: { outcome: "failed", error: `refused: ${error}` }, outcome: "refused" };
}

/** The outbox gives up after the schedule's last delay; the log says so on that attempt. */
function retryOrFail(error: string, attempt: number): Verdict {
  const last = attempt > WebhookRetryScheduleMs.length;
  return { result: { outcome: "retry", error }, outcome: last ? "failed" : "retrying" };
}

function judge(answer: Exchange, attempt: number): Verdict {
  const status = answer.status;
  if (status !== null && status >= 200 && status < 300) {
    return { result: { outcome: "sent" }, outcome: "delivered" };
  }
  if (status === 410) {
    const reason = "the endpoint answered 410 Gone";
    return {
      result: { outcome: "failed", error: `${reason}; webhook disabled` },
      outcome: "failed",
      disable: reason,
    };
  }
  if (status !== null && status >= 300 && status < 400) {
    // A redirect could lead anywhere, past the guard; it is the endpoint's to fix.
    return retryOrFail(`redirect (${status}) not followed`, attempt);
  }
  return retryOrFail(status !== null ? `HTTP ${status}` : (answer.error ?? "no answer"), attempt);
}

/**
 * The request goes to the address the guard approved, with the real name in Host and in TLS
 * (SNI and certificate check), so a DNS answer that changes between the check and the connect
 * (rebinding) cannot send it elsewhere.
 */
function pinned(vetted: Vetted): URL {
  const target = new URL(vetted.url.href);
  target.hash = "";
  target.hostname =
    vetted.address.family === 6 ? `[${vetted.address.address}]` : vetted.address.address;
  return target;
}

function tlsFor(vetted: Vetted, ca: string | undefined) {
  if (vetted.url.protocol !== "https:") return undefined;
  return { serverName: vetted.hostname, ...(ca !== undefined ? { ca } : {}) };
}

async function exchange(
  target: URL,
  headers: Record<string, string>,
  body: string,
  tls: { serverName: string; ca?: string } | undefined,
  timeoutMs: number,
): Promise<Exchange> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const response = await fetch(target, {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
      ...(tls ? { tls } : {}),
    });
    const excerpt = await readExcerpt(response);
    return { status: response.status, error: null, excerpt, durationMs: elapsed() };
  } catch (error) {
    return {
      status: null,
      error: describeFailure(error, timeoutMs),
      excerpt: null,
      durationMs: elapsed(),
    };
  }
}

/** Reads about a kilobyte and drops the rest, so a huge or endless answer costs nothing. */
async function readExcerpt(response: Response): Promise<string | null> {
  if (!response.body) return null;
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < ExcerptReadBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // The status already decided the outcome; a body cut short only shortens the excerpt.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const text = new TextDecoder().decode(Buffer.concat(chunks).subarray(0, ExcerptReadBytes));
  return text === "" ? null : text.slice(0, ExcerptChars);
}

function describeFailure(error: unknown, timeoutMs: number): string {
  const name = error instanceof Error ? error.name : "";
  if (name === "TimeoutError" || name === "AbortError") return `timeout after ${timeoutMs} ms`;
  const code = (error as { code?: unknown } | null)?.code;
  return `network error: ${typeof code === "string" ? code : name || "unknown"}`;
}
