import type { Clock } from "../clock.ts";
import type { Logger } from "../logger.ts";
import type { RateLimiter } from "../pacing/spacing-limiter.ts";
import type { Quota } from "./quota.ts";
import { cleanText, isRecord, parseTorchBody } from "./torch-wire.ts";
import type { CaseStatusSource, SourceResult } from "./types.ts";

/**
 * The USCIS Torch Case Status API as a CaseStatusSource. Every answer that is not a clear
 * "found", "not found" or "malformed receipt" becomes "unavailable": a checker must never read
 * an outage, a maintenance page or a proxy error as a status change or an unknown receipt.
 */

export interface TorchSourceOptions {
  apiBaseUrl: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  limiter: RateLimiter;
  quota: Quota;
  clock: Clock;
  logger: Logger;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

// Tokens live about 30 minutes; renewing a minute early keeps a slow call from carrying a
// token that expires on the way.
const RenewEarlyMs = 60_000;
const AssumedLifetimeSeconds = 1799;
const ReasonMaxLength = 160;

/**
 * After a 429 nothing is sent to USCIS for a while: Retry-After when USCIS gives one, else a
 * minute, doubling with each 429 in a row up to half an hour. Without it a long 429 stretch
 * still cost a call (and a unit of the daily quota) at every tick, and prolonged it.
 */
const FirstCoolDownMs = 60_000;
const MaxCoolDownMs = 30 * 60_000;
/** A Retry-After is honoured up to a day; beyond that it is more likely a mistake. */
const MaxRetryAfterMs = 24 * 60 * 60_000;

interface CachedToken {
  value: string;
  renewAt: number;
}

type TokenOutcome = { ok: true; token: string } | { ok: false; reason: string };

/** One HTTP exchange, read as far as the transport allows. */
type Exchange =
  | {
      kind: "answered";
      status: number;
      contentType: string;
      retryAfter: string | null;
      text: string;
    }
  | { kind: "failed"; reason: string };

export function createTorchSource(options: TorchSourceOptions): CaseStatusSource {
  const fetchImpl = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const baseUrl = options.apiBaseUrl.replace(/\/+$/, "");
  const logger = options.logger.child({ source: "torch" });
  let cached: CachedToken | null = null;
  let pendingToken: Promise<TokenOutcome> | null = null;
  let coolUntil = 0;
  let refusalsInRow = 0;

  function coolDownAfter(answer: Extract<Exchange, { kind: "answered" }>): void {
    refusalsInRow += 1;
    const now = options.clock.now();
    const doubled = FirstCoolDownMs * 2 ** Math.min(refusalsInRow - 1, 30);
    const asked = retryAfterMs(answer.retryAfter, now);
    const waitMs =
      asked !== null ? Math.min(asked, MaxRetryAfterMs) : Math.min(doubled, MaxCoolDownMs);
    coolUntil = Math.max(coolUntil, now + waitMs);
    logger.warn(
      { event: "uscis.cool_down", refusals_in_row: refusalsInRow, wait_ms: waitMs },
      "USCIS answered 429: no calls until the cool-down ends",
    );
  }

  async function exchange(url: string, init: RequestInit): Promise<Exchange> {
    try {
      const response = await fetchImpl(url, {
        ...init,
        redirect: "manual",
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.text();
      return {
        kind: "answered",
        status: response.status,
        contentType: response.headers.get("content-type") ?? "",
        retryAfter: response.headers.get("retry-after"),
        text,
      };
    } catch (error) {
      const name = error instanceof Error ? error.name : "";
      if (name === "TimeoutError" || name === "AbortError") {
        return { kind: "failed", reason: `timeout after ${timeoutMs} ms` };
      }
      return { kind: "failed", reason: `network error: ${shorten(String(error))}` };
    }
  }

  async function requestToken(): Promise<TokenOutcome> {
    const body = new URLSearchParams({
      grant_type: "client_credentials",
      client_id: options.clientId,
      client_secret: options.clientSecret,
    });
    const answer = await exchange(options.tokenUrl, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        Accept: "application/json",
      },
      body,
    });
    if (answer.kind === "failed") {
      logger.warn({ event: "uscis.token", outcome: "failed", reason: answer.reason });
      return { ok: false, reason: `token request failed: ${answer.reason}` };
    }
    // The body of a refusal may echo what was sent: it is never logged.
    if (answer.status !== 200) {
      logger.error({ event: "uscis.token", outcome: "refused", status: answer.status });
      return { ok: false, reason: "credentials refused" };
    }

    const token = readToken(answer.text);
    if (!token) {
      logger.error({ event: "uscis.token", outcome: "unreadable", status: answer.status });
      return { ok: false, reason: "token answer unreadable" };
    }
    const lifetimeMs = token.expiresInSeconds * 1000;
    const renewAt = options.clock.now() + lifetimeMs - Math.min(RenewEarlyMs, lifetimeMs / 2);
    cached = { value: token.accessToken, renewAt };
    logger.info({ event: "uscis.token", outcome: "issued", expires_in: token.expiresInSeconds });
    return { ok: true, token: token.accessToken };
  }

  function currentToken(): Promise<TokenOutcome> {
    if (cached && options.clock.now() < cached.renewAt) {
      return Promise.resolve({ ok: true, token: cached.value });
    }
    // Callers that find the token stale together share one request for a new one.
    pendingToken ??= requestToken().finally(() => {
      pendingToken = null;
    });
    return pendingToken;
  }

  async function callCaseStatus(receipt: string, token: string): Promise<Exchange | "quota"> {
    if (!options.quota.tryConsume()) return "quota";
    await options.limiter.acquire();
    return exchange(`${baseUrl}/case-status/${encodePathSegment(receipt)}`, {
      method: "GET",
      headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
    });
  }

  async function lookUp(receipt: string): Promise<SourceResult> {
    if (options.clock.now() < coolUntil) {
      const until = new Date(coolUntil).toISOString();
      return { kind: "rate_limited", reason: `cooling down after USCIS 429 until ${until}` };
    }
    for (let attempt = 1; ; attempt++) {
      const token = await currentToken();
      if (!token.ok) return { kind: "unavailable", reason: token.reason };

      const answer = await callCaseStatus(receipt, token.token);
      if (answer === "quota") return { kind: "rate_limited", reason: "daily quota reached" };
      if (answer.kind === "failed") return { kind: "unavailable", reason: answer.reason };

      // A 401 means the token died early (revoked, clock skew): one fresh token, one retry.
      if (answer.status === 401 && attempt === 1) {
        if (cached?.value === token.token) cached = null;
        continue;
      }
      if (answer.status === 429) coolDownAfter(answer);
      else refusalsInRow = 0;
      return interpret(answer);
    }
  }

  return {
    name: "torch",
    async fetch(receiptNumber) {
      const startedAt = performance.now();
      const result = await lookUp(receiptNumber);
      const facts = {
        event: "uscis.case_status",
        receipt: receiptNumber,
        outcome: result.kind,
        duration_ms: Math.round(performance.now() - startedAt),
        ...("reason" in result && { reason: result.reason }),
      };
      if (result.kind === "invalid_receipt") {
        // Our normaliser let through something USCIS calls malformed: that is our bug.
        logger.error({ ...facts, message: result.message }, "USCIS rejected a normalised receipt");
      } else if (result.kind === "unavailable" || result.kind === "rate_limited") {
        logger.warn(facts, "USCIS look-up failed");
      } else {
        logger.debug(facts, "USCIS look-up");
      }
      return result;
    },
  };
}

/** Retry-After in seconds or as an HTTP date, as milliseconds from now; null if unreadable. */
function retryAfterMs(value: string | null, now: number): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

function readToken(text: string): { accessToken: string; expiresInSeconds: number } | null {
  const body = parseJson(text);
  if (!isRecord(body) || typeof body.access_token !== "string" || body.access_token === "") {
    return null;
  }
  // Apigee sends expires_in as a string ("1799"); a number is accepted too.
  const raw = body.expires_in;
  const seconds = typeof raw === "number" || typeof raw === "string" ? Number(raw) : Number.NaN;
  const expiresInSeconds =
    Number.isFinite(seconds) && seconds > 0 ? seconds : AssumedLifetimeSeconds;
  return { accessToken: body.access_token, expiresInSeconds };
}

function interpret(answer: Extract<Exchange, { kind: "answered" }>): SourceResult {
  const { status, text } = answer;
  const body = parseJson(text);
  // Judged by the body first: a gateway's Content-Type is not a promise about its body.
  const looksLikeHtml =
    body === undefined && (/^\s*</.test(text) || /html/i.test(answer.contentType));
  const label = `USCIS ${status}`;

  if (status === 200) {
    if (looksLikeHtml) return unavailable(`${label} with an HTML page instead of JSON`);
    if (body === undefined) return unavailable(`${label} with a body that is not JSON`);
    const error = errorMessage(body);
    if (error !== null) return unavailable(`${label} with an error: ${error}`);
    const parsed = parseTorchBody(body);
    return parsed.ok
      ? { kind: "found", observation: parsed.observation }
      : unavailable(`${label} ${parsed.reason}`);
  }

  const message = body === undefined ? null : errorMessage(body);
  const detail = message ?? (looksLikeHtml ? "HTML page" : body === undefined ? "no JSON" : "");
  const described = detail ? `${label}: ${detail}` : label;

  switch (status) {
    case 404:
      // Only Torch's own answer means "unknown receipt"; an HTML 404 or an Apigee fault is a
      // wrong URL or a proxy problem, and reading it as "not found" would hide the outage.
      return body !== undefined && isRecord(body) && !("fault" in body)
        ? { kind: "not_found" }
        : unavailable(described);
    case 422:
      return {
        kind: "invalid_receipt",
        message: message ?? "receipt number not formatted correctly",
      };
    case 429:
      return { kind: "rate_limited", reason: described };
    case 401:
      return unavailable(`${label}: access token refused twice`);
    default:
      return unavailable(described);
  }
}

/**
 * The message of any error shape Torch or Apigee uses: `{code, message}`,
 * `{"error": {code, message}}`, `{"errors": [{code, message}]}`, `{"fault": {faultstring}}`.
 * Null when the body is not an error.
 */
function errorMessage(body: unknown): string | null {
  if (!isRecord(body)) return null;
  if (isRecord(body.fault)) {
    return shorten(cleanText(body.fault.faultstring) || "Apigee fault");
  }
  if (isRecord(body.error)) return shorten(cleanText(body.error.message) || "error");
  if (typeof body.error === "string") return shorten(cleanText(body.error));
  if (Array.isArray(body.errors) && body.errors.length > 0) {
    const first: unknown = body.errors[0];
    return shorten((isRecord(first) && cleanText(first.message)) || "errors");
  }
  if ("code" in body && !("case_status" in body)) {
    return shorten(cleanText(body.message) || `code ${String(body.code)}`);
  }
  return null;
}

// encodeURIComponent leaves "*" alone; the "*" receipt form is sent escaped so no gateway
// between us and Torch can read it as a wildcard.
function encodePathSegment(receipt: string): string {
  return encodeURIComponent(receipt).replaceAll("*", "%2A");
}

function unavailable(reason: string): SourceResult {
  return { kind: "unavailable", reason };
}

function shorten(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > ReasonMaxLength ? `${flat.slice(0, ReasonMaxLength - 1)}…` : flat;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
