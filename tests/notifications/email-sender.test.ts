import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { manualClock } from "../../src/clock.ts";
import { createLogger, memoryDestination } from "../../src/logger.ts";
import {
  classifyResendError,
  createEmailSender,
  createLogEmailSender,
  createResendSender,
  type ResendSenderOptions,
} from "../../src/notifications/email-sender.ts";
import type { EmailMessage } from "../../src/outbox/types.ts";
import { type ResendFake, startResendFake } from "../fakes/resend-fake.ts";

const ApiKey = "re_live_secret_4f9c2b7e1d";
const From = "ImmigraFlow <cases@immigraflow.example>";
const Recipient = "maria.silva@example.com";

const message: EmailMessage = {
  to: Recipient,
  subject: "Your case EAC9999103403 was updated",
  html: "<p>Case Was Approved</p>",
  text: "Case Was Approved",
};

let fake: ResendFake;

beforeAll(() => {
  fake = startResendFake({ apiKey: ApiKey });
});

afterEach(() => fake.reset());

afterAll(() => fake.stop());

function senderFor(overrides: Partial<ResendSenderOptions> = {}) {
  const log = memoryDestination();
  const logger = createLogger({ level: "info", format: "json", destination: log.stream });
  const sender = createResendSender({
    apiKey: ApiKey,
    baseUrl: fake.url,
    from: From,
    replyTo: "help@immigraflow.example",
    // Fast enough that pacing does not slow the tests that are not about pacing.
    ratePerSecond: 1000,
    logger,
    ...overrides,
  });
  return { sender, log };
}

describe("sending through Resend", () => {
  test("the message's fields arrive at Resend with the job's idempotency key", async () => {
    const { sender } = senderFor();

    const result = await sender.send(message, "status_update:42:email");

    expect(fake.delivered).toHaveLength(1);
    const [delivery] = fake.delivered;
    expect(result).toEqual({ outcome: "sent", providerMessageId: delivery!.id });
    expect(delivery).toMatchObject({
      idempotencyKey: "status_update:42:email",
      from: From,
      to: Recipient,
      subject: message.subject,
      html: message.html,
      text: message.text,
      reply_to: "help@immigraflow.example",
    });
    expect(fake.requests[0]).toMatchObject({ auth: "ok", contentType: "application/json" });
    expect(fake.requests[0]?.userAgent).toStartWith("resend-node:");
  });

  test("no reply_to is sent when none is configured", async () => {
    const { sender } = senderFor({ replyTo: "" });

    await sender.send(message, "no-reply-to");

    expect(fake.delivered[0]?.reply_to).toBeUndefined();
  });

  test("accents in English, Spanish and Portuguese arrive intact", async () => {
    const { sender } = senderFor();
    const messages: EmailMessage[] = [
      { ...message, subject: "Update: your case moved", text: "Naïve café résumé" },
      {
        ...message,
        subject: "Actualización de su caso en España: ñandú",
        html: "<p>Su solicitud fue aprobada. ¿Preguntas? ¡Escríbanos!</p>",
        text: "Su solicitud fue aprobada. ¿Preguntas? ¡Escríbanos!",
      },
      {
        ...message,
        subject: "Olá, ação necessária: atualização do seu caso",
        html: "<p>Olá! A ação foi concluída. Informações: São Paulo, coração, pão.</p>",
        text: "Olá! A ação foi concluída. Informações: São Paulo, coração, pão. 🇧🇷",
      },
    ];

    for (const [index, each] of messages.entries()) await sender.send(each, `utf8-${index}`);

    expect(fake.delivered.map(({ subject, html, text }) => ({ subject, html, text }))).toEqual(
      messages.map(({ subject, html, text }) => ({ subject, html, text })),
    );
    expect(JSON.stringify(fake.delivered)).not.toContain("Ã");
  });

  test("a retry after a lost answer reuses the key and sends one e-mail", async () => {
    const { sender } = senderFor();
    fake.setMode("reset-connection", { afterAccept: true, times: 1 });

    const first = await sender.send(message, "status_update:7:email");
    const second = await sender.send(message, "status_update:7:email");

    expect(first.outcome).toBe("retry");
    expect(second).toEqual({ outcome: "sent", providerMessageId: fake.delivered[0]!.id });
    expect(fake.delivered).toHaveLength(1);
    expect(fake.requests.map((r) => r.idempotencyKey)).toEqual([
      "status_update:7:email",
      "status_update:7:email",
    ]);
  });

  test("a retry after a 503 reuses the key and sends one e-mail", async () => {
    const { sender } = senderFor();
    fake.failNext(1, 503, "internal_server_error");

    const first = await sender.send(message, "job-503");
    const second = await sender.send(message, "job-503");

    expect(first.outcome).toBe("retry");
    expect(second.outcome).toBe("sent");
    expect(fake.delivered).toHaveLength(1);
    expect(new Set(fake.requests.map((r) => r.idempotencyKey))).toEqual(new Set(["job-503"]));
  });

  test("a timed-out request is retried, and its retry gets the first id", async () => {
    const { sender } = senderFor({ timeoutMs: 100 });
    fake.setMode("slow", { delayMs: 300, times: 1 });

    const timedOut = await sender.send(message, "job-slow");
    const whileInFlight = await sender.send(message, "job-slow");
    await Bun.sleep(300);
    const afterwards = await sender.send(message, "job-slow");

    expect(timedOut).toMatchObject({ outcome: "retry", error: expect.stringContaining("timeout") });
    expect(whileInFlight).toMatchObject({
      outcome: "retry",
      error: expect.stringContaining("concurrent_idempotent_requests"),
    });
    expect(afterwards).toEqual({ outcome: "sent", providerMessageId: fake.delivered[0]!.id });
    expect(fake.delivered).toHaveLength(1);
  });
});

describe("classifying Resend's answers", () => {
  test("429 rate_limit_exceeded is retried after Resend's retry-after", async () => {
    const { sender } = senderFor();
    fake.setMode("429", { retryAfterSeconds: 3 });

    const result = await sender.send(message, "job-429");

    expect(result).toEqual({
      outcome: "retry",
      error: expect.stringContaining("rate_limit_exceeded (429)"),
      retryAfterMs: 3000,
    });
    expect(fake.delivered).toHaveLength(0);
  });

  test("429 without retry-after is retried with no hint", async () => {
    const { sender } = senderFor();
    fake.setMode("429", { retryAfterSeconds: null });

    const result = await sender.send(message, "job-429-bare");

    expect(result.outcome).toBe("retry");
    expect(result).not.toHaveProperty("retryAfterMs");
  });

  test("429 daily_quota_exceeded is retried", async () => {
    const { sender } = senderFor();
    fake.failNext(1, 429, "daily_quota_exceeded");

    const result = await sender.send(message, "job-quota");

    expect(result).toMatchObject({
      outcome: "retry",
      error: expect.stringContaining("daily_quota_exceeded"),
    });
  });

  test("500 internal_server_error is retried", async () => {
    const { sender } = senderFor();
    fake.setMode("500");

    const result = await sender.send(message, "job-500");

    expect(result).toMatchObject({
      outcome: "retry",
      error: expect.stringContaining("internal_server_error (500)"),
    });
  });

  test("a 503 HTML page from a load balancer is retried", async () => {
    const { sender } = senderFor();
    fake.setMode("503");

    const result = await sender.send(message, "job-503-html");

    expect(result).toMatchObject({ outcome: "retry", error: expect.stringContaining("(503)") });
  });

  test("a connection reset with no answer is retried", async () => {
    const { sender } = senderFor();
    fake.setMode("reset-connection");

    const result = await sender.send(message, "job-reset");

    expect(result).toMatchObject({
      outcome: "retry",
      error: expect.stringContaining("no response"),
    });
    expect(fake.delivered).toHaveLength(0);
  });

  test("a refused connection (Resend unreachable) is retried", async () => {
    const stopped = startResendFake({ apiKey: ApiKey });
    await stopped.stop();
    const { sender } = senderFor({ baseUrl: stopped.url });

    const result = await sender.send(message, "job-refused");

    expect(result).toMatchObject({
      outcome: "retry",
      error: expect.stringContaining("no response"),
    });
  });

  test("an invalid recipient (422 validation_error) fails for good", async () => {
    const { sender } = senderFor();

    const result = await sender.send({ ...message, to: "not-an-address" }, "job-422");

    expect(result).toMatchObject({
      outcome: "failed",
      error: expect.stringContaining("validation_error (422)"),
    });
    expect(fake.delivered).toHaveLength(0);
  });

  test("a missing subject (422 missing_required_field) fails for good", async () => {
    const { sender } = senderFor();

    const result = await sender.send({ ...message, subject: "" }, "job-no-subject");

    expect(result).toMatchObject({
      outcome: "failed",
      error: expect.stringContaining("missing_required_field (422)"),
    });
  });

  test("a malformed from address fails for good", async () => {
    const { sender } = senderFor({ from: "ImmigraFlow" });

    const result = await sender.send(message, "job-bad-from");

    expect(result).toMatchObject({
      outcome: "failed",
      error: expect.stringContaining("validation_error (422)"),
    });
  });

  test("a wrong API key (403 invalid_api_key) fails for good and never names the key", async () => {
    const wrongKey = "re_wrong_key_9a8b7c";
    const { sender, log } = senderFor({ apiKey: wrongKey });

    const result = await sender.send(message, "job-403");

    expect(result).toMatchObject({
      outcome: "failed",
      error: expect.stringContaining("invalid_api_key (403)"),
    });
    expect(fake.requests[0]?.auth).toBe("wrong");
    expect(JSON.stringify(result)).not.toContain(wrongKey);
    expect(JSON.stringify(log.lines)).not.toContain(wrongKey);
  });

  test.each([
    [401, "missing_api_key"],
    [401, "restricted_api_key"],
    [403, "invalid_from_address"],
    [403, "validation_error"],
    [400, "invalid_idempotency_key"],
  ])("%i %s fails for good", async (status, name) => {
    const { sender } = senderFor();
    fake.failNext(1, status, name);

    const result = await sender.send(message, `job-${name}`);

    expect(result).toMatchObject({
      outcome: "failed",
      error: expect.stringContaining(`${name} (${status})`),
    });
  });

  test("the same key with a different message (409 invalid_idempotent_request) fails", async () => {
    const { sender } = senderFor();
    await sender.send(message, "job-reused");

    const result = await sender.send({ ...message, subject: "Something else" }, "job-reused");

    expect(result).toMatchObject({
      outcome: "failed",
      error: expect.stringContaining("invalid_idempotent_request (409)"),
    });
    expect(fake.delivered).toHaveLength(1);
  });

  test("the same key while the first is in progress (409 concurrent) is retried", async () => {
    const { sender } = senderFor();
    fake.failNext(1, 409, "concurrent_idempotent_requests");

    const result = await sender.send(message, "job-concurrent");

    expect(result).toMatchObject({
      outcome: "retry",
      error: expect.stringContaining("concurrent_idempotent_requests (409)"),
    });
  });

  test("retry-after as an HTTP date is turned into milliseconds", () => {
    const now = Date.UTC(2026, 4, 4, 12, 0, 0);
    const error = { name: "rate_limit_exceeded", statusCode: 429, message: "slow down" };

    const result = classifyResendError(
      error,
      { "retry-after": new Date(now + 30_000).toUTCString() },
      now,
    );

    expect(result).toMatchObject({ outcome: "retry", retryAfterMs: 30_000 });
  });
});

describe("pacing", () => {
  test("six sends at 5 a second never trip Resend's limit and leave >= 190 ms gaps", async () => {
    const { sender } = senderFor({ ratePerSecond: 5 });
    fake.setRateLimit(5);

    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => sender.send(message, `paced-${i}`)),
    );

    expect(results.map((r) => r.outcome)).toEqual(Array(6).fill("sent"));
    const arrivals = fake.requests.map((r) => r.receivedAt);
    const gaps = arrivals.slice(1).map((at, i) => at - arrivals[i]!);
    expect(gaps).toHaveLength(5);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(190);
  });

  test("a rate above 1,000 a second lifts pacing: no millisecond wait per e-mail", async () => {
    // A clock that stands still: pacing it could keep would wait on it at least 1 ms an e-mail.
    const { sender } = senderFor({ ratePerSecond: 1_000_000, clock: manualClock() });
    const count = 100;

    const results = await Promise.all(
      Array.from({ length: count }, (_, i) => sender.send(message, `lifted-${i}`)),
    );

    expect(results.filter((r) => r.outcome === "sent")).toHaveLength(count);
    const arrivals = fake.requests.map((r) => r.receivedAt);
    expect(Math.max(...arrivals) - Math.min(...arrivals)).toBeLessThan(count * 2);
  });

  test("the fake's limit does refuse a sender that does not pace itself", async () => {
    const { sender } = senderFor({ ratePerSecond: 1000 });
    fake.setRateLimit(5);

    const results = await Promise.all(
      Array.from({ length: 3 }, (_, i) => sender.send(message, `unpaced-${i}`)),
    );

    expect(results.filter((r) => r.outcome === "retry")).not.toHaveLength(0);
    expect(fake.requests.some((r) => r.errorName === "rate_limit_exceeded")).toBe(true);
  });
});

describe("the delivery log", () => {
  test("one line per delivery, with the masked recipient, outcome, id and duration", async () => {
    const { sender, log } = senderFor();

    const result = await sender.send(message, "job-log");

    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toMatchObject({
      level: "info",
      msg: "e-mail delivery",
      to: "m***@example.com",
      outcome: "sent",
      idempotency_key: "job-log",
      provider_message_id: result.outcome === "sent" ? result.providerMessageId : "",
      duration_ms: expect.any(Number),
    });
  });

  test("no line names the API key, the full address or the body, in any outcome", async () => {
    const { sender, log } = senderFor();
    fake.failNext(1, 500, "internal_server_error", `upstream refused ${Recipient} for ${ApiKey}`);

    await sender.send(message, "job-quiet-1");
    await sender.send(message, "job-quiet-2");
    await sender.send({ ...message, to: "bad address" }, "job-quiet-3");

    const text = JSON.stringify(log.lines);
    expect(log.lines.map((l) => l.outcome)).toEqual(["retry", "sent", "failed"]);
    expect(text).not.toContain(ApiKey);
    expect(text).not.toContain(Recipient);
    expect(text).not.toContain(message.html);
    expect(text).toContain("m***@example.com");
  });
});

describe("without a Resend key", () => {
  const settings = {
    resendApiKey: "",
    resendBaseUrl: "https://api.resend.com",
    emailFrom: From,
    emailReplyTo: "",
    emailRatePerSecond: 2,
  };

  test("the message goes to the log and is skipped with the reason", async () => {
    const log = memoryDestination();
    const logger = createLogger({ level: "info", format: "json", destination: log.stream });
    const sender = createLogEmailSender(logger);

    const result = await sender.send(message, "job-local");

    expect(result).toEqual({ outcome: "skipped", reason: "no e-mail provider configured" });
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toMatchObject({
      to: "m***@example.com",
      subject: message.subject,
      text: message.text,
    });
    expect(JSON.stringify(log.lines)).not.toContain(Recipient);
  });

  test("createEmailSender picks the log sender with no key and Resend with one", async () => {
    const log = memoryDestination();
    const logger = createLogger({ level: "info", format: "json", destination: log.stream });

    const local = createEmailSender(settings, logger);
    const resend = createEmailSender(
      { ...settings, resendApiKey: ApiKey, resendBaseUrl: fake.url, emailRatePerSecond: 100 },
      logger,
    );

    expect((await local.send(message, "pick-1")).outcome).toBe("skipped");
    expect((await resend.send(message, "pick-2")).outcome).toBe("sent");
    expect(fake.delivered.map((d) => d.idempotencyKey)).toEqual(["pick-2"]);
  });
});

describe("the fake's control over HTTP, for tests that run the binary", () => {
  test("modes and failures can be set, and deliveries read, from another process", async () => {
    const { sender } = senderFor();
    const post = (path: string, body: object) =>
      fetch(`${fake.url}${path}`, { method: "POST", body: JSON.stringify(body) });

    await post("/__fake/mode", { mode: "500", times: 1 });
    const during = await sender.send(message, "http-1");
    const after = await sender.send(message, "http-1");
    await post("/__fake/fail-next", { times: 1, status: 403, name: "invalid_api_key" });
    const refused = await sender.send(message, "http-2");
    const deliveries = await (await fetch(`${fake.url}/__fake/deliveries`)).json();

    expect([during.outcome, after.outcome, refused.outcome]).toEqual(["retry", "sent", "failed"]);
    expect(deliveries).toEqual([expect.objectContaining({ idempotencyKey: "http-1" })]);

    await post("/__fake/reset", {});
    expect(await (await fetch(`${fake.url}/__fake/deliveries`)).json()).toEqual([]);
  });
});
