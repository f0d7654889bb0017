import { afterAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { getExpectedTwilioSignature } from "twilio/lib/webhooks/webhooks";
import {
  cases,
  clients,
  type NotifyStatus,
  type OutboxState,
  outboxJobs,
  receipts,
  statusUpdates,
  users,
  webhooks,
} from "../../src/db/schema.ts";
import {
  createTwilioStatusService,
  TwilioStatusPath,
} from "../../src/notifications/twilio-status.ts";
import { createTwilioSender } from "../../src/notifications/whatsapp-sender.ts";
import { recordOutcome } from "../../src/outbox/outbox.ts";
import { startTwilioFake } from "../fakes/twilio-fake.ts";
import { testApp } from "../helpers/app.ts";

const AccountSid = `AC${"c3".repeat(16)}`;
const AuthToken = "twilio-auth-token-for-callbacks";
const PublicBaseUrl = "https://immigraflow.example";
const CallbackUrl = `${PublicBaseUrl}${TwilioStatusPath}`;
const Sid = `SM${"0123456789abcdef".repeat(2)}`;

const fake = startTwilioFake({ accountSid: AccountSid, authToken: AuthToken });
afterAll(() => fake.stop());

function world(options: { authToken?: string } = {}) {
  const authToken = options.authToken ?? AuthToken;
  const twilioEnv: Record<string, string> = authToken
    ? {
        TWILIO_ACCOUNT_SID: AccountSid,
        TWILIO_AUTH_TOKEN: authToken,
        TWILIO_WHATSAPP_FROM: "+14155238886",
      }
    : {};
  const t = testApp({ env: { PUBLIC_BASE_URL: PublicBaseUrl, ...twilioEnv } });
  const { db, clock, logs, app } = t;
  const now = clock.now();

  const client = db
    .insert(clients)
    .values({
      name: "Acme Immigration Law",
      contactEmail: "ops@acme.example",
      apiKey: "pk_test_acme",
      secretHash: "x",
      createdAt: now,
      updatedAt: now,
    })
    .returning()
    .get();
  const user = db
    .insert(users)
    .values({
      clientId: client.id,
      email: "ana@example.com",
      phone: "+5511987654321",
      preferredLanguage: "pt",
      notifyByWhatsapp: true,
      createdAt: now,
      updatedAt: now,
    })
    .returning()
    .get();
  db.insert(receipts)
    .values({ receiptNumber: "IOE0912345678", nextCheckAt: now, createdAt: now })
    .run();
  const watched = db
    .insert(cases)
    .values({
      userId: user.id,
      receiptNumber: "IOE0912345678",
      userCaseId: "case_01TEST",
      createdAt: now,
      updatedAt: now,
    })
    .returning()
    .get();

  /** A status update with its WhatsApp job, as the outbox leaves them after a send. */
  function seed(
    state: {
      job?: OutboxState;
      whatsapp?: NotifyStatus;
      email?: NotifyStatus;
      providerMessageId?: string | null;
      lastError?: string | null;
      key?: string;
    } = {},
  ) {
    const whatsapp = state.whatsapp ?? "sent";
    const email = state.email ?? "skipped";
    const update = db
      .insert(statusUpdates)
      .values({
        caseId: watched.id,
        kind: "status_changed",
        category: "approved",
        statusCode: "Case Was Approved",
        statusDescription: "We approved your case.",
        statusCodePt: "Caso aprovado",
        statusDescriptionPt: "Aprovamos o seu caso.",
        detailMessage: "We approved your case.",
        history: [],
        timestamp: now,
        notified: whatsapp === "sent" || email === "sent" ? 1 : 0,
        emailNotifyStatus: email,
        whatsappNotifyStatus: whatsapp,
        whatsappNotifyAttempts: 1,
        whatsappNotifySentAt: whatsapp === "sent" ? now : null,
        whatsappNotifyLastError: state.lastError ?? null,
      })
      .returning()
      .get();
    const job = db
      .insert(outboxJobs)
      .values({
        channel: "whatsapp",
        purpose: "status_update",
        idempotencyKey: state.key ?? `job_${update.id}`,
        userId: user.id,
        statusUpdateId: update.id,
        payload: { channel: "whatsapp" },
        state: state.job ?? "sent",
        attempts: 1,
        nextAttemptAt: now,
        providerMessageId: state.providerMessageId === undefined ? Sid : state.providerMessageId,
        lastError: state.lastError ?? null,
        createdAt: now,
        updatedAt: now,
        finishedAt: state.job === "in_flight" ? null : now,
      })
      .returning()
      .get();
    return { updateId: update.id, jobId: job.id, key: job.idempotencyKey };
  }

  const updateRow = (id: number) =>
    db.select().from(statusUpdates).where(eq(statusUpdates.id, id)).get()!;
  const jobRow = (id: number) => db.select().from(outboxJobs).where(eq(outboxJobs.id, id)).get()!;
  const userRow = () => db.select().from(users).where(eq(users.id, user.id)).get()!;
  const snapshot = () =>
    JSON.stringify([
      db.select().from(statusUpdates).all(),
      db.select().from(outboxJobs).all(),
      userRow(),
    ]);

  function callbackParams(status: string, extra: Record<string, string> = {}, sid = Sid) {
    return {
      AccountSid,
      ApiVersion: "2010-04-01",
      ChannelPrefix: "whatsapp",
      From: "whatsapp:+14155238886",
      MessageSid: sid,
      MessageStatus: status,
      SmsSid: sid,
      SmsStatus: status,
      To: "whatsapp:+5511987654321",
      ...extra,
    };
  }

  /** Signed as Twilio signs it and handed to the app, as a proxy in front of it would. */
  async function callback(
    status: string,
    extra: Record<string, string> = {},
    options: { sid?: string; query?: string; signature?: string | null } = {},
  ) {
    const url = `${CallbackUrl}${options.query ?? ""}`;
    const response = await fake.sendStatusCallback(
      url,
      callbackParams(status, extra, options.sid),
      {
        via: (request) => app.handle(request),
        signature: options.signature,
      },
    );
    const text = await response.text();
    return { status: response.status, text, json: text ? JSON.parse(text) : null };
  }

  const service = createTwilioStatusService({
    db,
    authToken,
    publicBaseUrl: PublicBaseUrl,
    logger: t.logger,
    clock,
  });
  return {
    clientId: client.id,
    db,
    app,
    logs,
    logger: t.logger,
    clock,
    seed,
    updateRow,
    jobRow,
    userRow,
    snapshot,
    callback,
    callbackParams,
    service,
  };
}

describe("POST /v1/providers/twilio/status", () => {
  test("a signed failure marks the WhatsApp notification failed and answers 204", async () => {
    const t = world();
    const { updateId, jobId } = t.seed({ email: "failed" });

    const response = await t.callback("undelivered", { ErrorCode: "63016" });

    expect(response.status).toBe(204);
    expect(response.text).toBe("");
    expect(t.updateRow(updateId)).toMatchObject({
      whatsappNotifyStatus: "failed",
      whatsappNotifyLastError: expect.stringMatching(/^Twilio 63016: /),
      whatsappNotifySentAt: null,
      notified: 0,
    });
    expect(t.jobRow(jobId)).toMatchObject({ state: "failed", lastError: expect.any(String) });
  });

  test("Twilio's ErrorMessage is used when it sends one", async () => {
    const t = world();
    const { updateId } = t.seed();

    await t.callback("failed", { ErrorCode: "63024", ErrorMessage: "Invalid message recipient" });

    expect(t.updateRow(updateId).whatsappNotifyLastError).toBe(
      "Twilio 63024: Invalid message recipient",
    );
  });

  test("notified stays 1 when the e-mail went out", async () => {
    const t = world();
    const { updateId } = t.seed({ email: "sent" });

    await t.callback("failed", { ErrorCode: "30008" });

    expect(t.updateRow(updateId)).toMatchObject({ whatsappNotifyStatus: "failed", notified: 1 });
  });

  test("failed then delivered stays failed", async () => {
    const t = world();
    const { updateId, jobId } = t.seed();

    await t.callback("failed", { ErrorCode: "63016" });
    const late = await t.callback("delivered");
    await t.callback("read");

    expect(late.status).toBe(204);
    expect(t.updateRow(updateId).whatsappNotifyStatus).toBe("failed");
    expect(t.jobRow(jobId).state).toBe("failed");
  });

  test("21610 in a callback turns the user's WhatsApp off", async () => {
    const t = world();
    t.seed();

    await t.callback("failed", { ErrorCode: "21610" });

    expect(t.userRow().notifyByWhatsapp).toBe(false);
  });

  test("delivered confirms a job whose SID was never recorded, found by its job key", async () => {
    const t = world();
    const { updateId, jobId, key } = t.seed({
      job: "in_flight",
      whatsapp: "pending",
      providerMessageId: null,
    });

    await t.callback("delivered", {}, { query: `?job=${key}` });

    expect(t.jobRow(jobId)).toMatchObject({ state: "sent", providerMessageId: Sid });
    expect(t.updateRow(updateId)).toMatchObject({
      whatsappNotifyStatus: "sent",
      whatsappNotifySentAt: t.clock.now(),
      notified: 1,
    });
  });

  test("a failure reported before the sender recorded Twilio's answer stands", async () => {
    const t = world();
    const { updateId, jobId, key } = t.seed({
      job: "in_flight",
      whatsapp: "pending",
      providerMessageId: null,
    });
    await t.callback("undelivered", { ErrorCode: "30003" }, { query: `?job=${key}` });

    const job = t.db.select().from(outboxJobs).where(eq(outboxJobs.id, jobId)).get()!;
    recordOutcome(
      t.db,
      { ...job, state: "in_flight" },
      { outcome: "sent", providerMessageId: Sid },
      t.clock.now(),
    );

    expect(t.jobRow(jobId)).toMatchObject({ state: "failed", providerMessageId: Sid });
    expect(t.updateRow(updateId)).toMatchObject({ whatsappNotifyStatus: "failed", notified: 0 });
  });

  test("a failure Twilio reports later reaches the partner as notification.failed", async () => {
    const t = world();
    t.db
      .insert(webhooks)
      .values({
        clientId: t.clientId,
        url: "https://hooks.partner.example/in",
        events: ["notification.failed"],
        secret: "whsec_dGVzdA==",
        createdAt: 0,
        updatedAt: 0,
      })
      .run();
    t.seed();
    await t.callback("undelivered", { ErrorCode: "30003" });
    await t.callback("failed", { ErrorCode: "30003" });

    const events = t.db.select().from(outboxJobs).where(eq(outboxJobs.channel, "webhook")).all();
    expect(events).toHaveLength(1);
    const event = (events[0]!.payload as { event: { type: string; data: any } }).event;
    expect(event.type).toBe("notification.failed");
    expect(event.data.notification).toMatchObject({ channel: "whatsapp" });
  });

  test("an unknown MessageSid answers 204 and changes nothing", async () => {
    const t = world();
    t.seed();
    const before = t.snapshot();

    const response = await t.callback(
      "failed",
      { ErrorCode: "63016" },
      { sid: `SM${"9".repeat(32)}` },
    );

    expect(response.status).toBe(204);
    expect(t.snapshot()).toBe(before);
  });

  test("a wrong signature is 403 in the error envelope and changes nothing", async () => {
    const t = world();
    t.seed();
    const before = t.snapshot();

    const response = await t.callback("failed", { ErrorCode: "21610" }, { signature: "bm9wZQ==" });

    expect(response.status).toBe(403);
    expect(response.json.error).toMatchObject({
      code: "forbidden",
      request_id: expect.any(String),
    });
    expect(t.snapshot()).toBe(before);
  });

  test("no signature is 403", async () => {
    const t = world();
    t.seed();

    const response = await t.callback("failed", {}, { signature: null });

    expect(response.status).toBe(403);
  });

  test("a signature over another URL is 403: only PUBLIC_BASE_URL counts", async () => {
    const t = world();
    t.seed();
    const params = t.callbackParams("failed", { ErrorCode: "21610" });
    const elsewhere = `http://localhost${TwilioStatusPath}`;

    const response = await fake.sendStatusCallback(elsewhere, params, {
      via: (request) => t.app.handle(request),
    });

    expect(response.status).toBe(403);
    expect(t.userRow().notifyByWhatsapp).toBe(true);
  });

  test("a query added after signing is 403: the signature covers it", async () => {
    const t = world();
    const { key } = t.seed({ job: "in_flight", providerMessageId: null });
    const params = t.callbackParams("delivered");
    const signedFor = CallbackUrl;

    const response = await fake.sendStatusCallback(signedFor, params, {
      via: (request) => t.app.handle(new Request(`${request.url}?job=${key}`, request)),
    });

    expect(response.status).toBe(403);
  });

  test("the loop: a message sent through the fake, then Twilio's report of it", async () => {
    const t = world();
    const logger = t.logger;
    const whatsapp = createTwilioSender({
      accountSid: AccountSid,
      authToken: AuthToken,
      from: "+14155238886",
      contentSids: {},
      apiBaseUrl: fake.url,
      statusCallbackUrl: CallbackUrl,
      logger,
    });
    const sent = await whatsapp.send(
      { to: "+5511987654321", language: "pt", variables: {}, text: "Caso aprovado" },
      "job_01LOOP",
    );
    const sid = sent.outcome === "sent" ? sent.providerMessageId! : "";
    const { updateId } = t.seed({ providerMessageId: sid, key: "job_01LOOP" });

    const response = await fake.reportStatus(sid, "undelivered", {
      errorCode: "63016",
      via: (request) => t.app.handle(request),
    });

    expect(response.status).toBe(204);
    expect(t.updateRow(updateId).whatsappNotifyStatus).toBe("failed");
  });

  test("a body that is not a form is refused", async () => {
    const t = world();

    const response = await t.app.handle(
      new Request(CallbackUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(t.callbackParams("failed")),
      }),
    );

    expect(response.status).toBe(415);
  });
});

describe("status callbacks (service)", () => {
  test("a signature is checked over PUBLIC_BASE_URL, path, query and every field", () => {
    const t = world();
    const params = t.callbackParams("failed", { ErrorCode: "63016" });
    const sign = (url: string, fields: Record<string, string>) =>
      getExpectedTwilioSignature(AuthToken, url, fields);

    expect(t.service.authentic(sign(CallbackUrl, params), "", params)).toBe(true);
    expect(t.service.authentic(sign(`${CallbackUrl}?job=k`, params), "?job=k", params)).toBe(true);
    expect(t.service.authentic(sign(CallbackUrl, params), "?job=k", params)).toBe(false);
    const tampered = { ...params, ErrorCode: "21610" };
    expect(t.service.authentic(sign(CallbackUrl, params), "", tampered)).toBe(false);
    expect(t.service.authentic(null, "", params)).toBe(false);
    expect(t.service.authentic("", "", params)).toBe(false);
  });

  test("with no auth token configured nothing is authentic, not even an empty-key HMAC", () => {
    const t = world({ authToken: "" });
    const params = t.callbackParams("failed");
    const emptyKey = getExpectedTwilioSignature("", CallbackUrl, params);

    expect(t.service.authentic(emptyKey, "", params)).toBe(false);
  });

  test("failure, then a late success: the failure stands", () => {
    const t = world();
    const { updateId, jobId } = t.seed();

    expect(t.service.record(t.callbackParams("undelivered", { ErrorCode: "63016" }), null)).toBe(
      "failure_recorded",
    );
    expect(t.service.record(t.callbackParams("delivered"), null)).toBe("failure_kept");

    expect(t.updateRow(updateId)).toMatchObject({
      whatsappNotifyStatus: "failed",
      whatsappNotifyLastError:
        "Twilio 63016: outside the 24-hour window free-form messages are not allowed; " +
        "a template is needed",
    });
    expect(t.jobRow(jobId).state).toBe("failed");
  });

  test("an opt-out in a callback turns WhatsApp off for the user", () => {
    const t = world();
    t.seed();

    t.service.record(t.callbackParams("failed", { ErrorCode: "21610" }), null);

    expect(t.userRow().notifyByWhatsapp).toBe(false);
  });

  test("a job closed as 'outcome unknown' is settled by a delivery report", () => {
    const t = world();
    const unknown =
      "outcome unknown: the service stopped while sending; not sent again so it cannot arrive " +
      "twice";
    const { updateId, jobId, key } = t.seed({
      job: "failed",
      whatsapp: "failed",
      providerMessageId: null,
      lastError: unknown,
    });

    expect(t.service.record(t.callbackParams("read"), key)).toBe("delivery_confirmed");

    expect(t.jobRow(jobId)).toMatchObject({
      state: "sent",
      lastError: null,
      providerMessageId: Sid,
    });
    expect(t.updateRow(updateId)).toMatchObject({ whatsappNotifyStatus: "sent", notified: 1 });
  });

  test("a delivery report keeps the sent_at the outbox recorded", () => {
    const t = world();
    const { updateId } = t.seed();
    const sentAt = t.updateRow(updateId).whatsappNotifySentAt;
    t.clock.advance(60_000);

    t.service.record(t.callbackParams("delivered"), null);

    expect(t.updateRow(updateId).whatsappNotifySentAt).toBe(sentAt);
  });

  test("a job key never claims a job that already has another message's SID", () => {
    const t = world();
    const { jobId, key } = t.seed({ providerMessageId: `SM${"1".repeat(32)}` });
    const other = t.callbackParams("failed", { ErrorCode: "30008" });

    expect(t.service.record(other, key)).toBe("unknown_message");
    expect(t.jobRow(jobId).state).toBe("sent");
  });

  test("queued and sent change nothing; unknown SIDs are reported as such", () => {
    const t = world();
    t.seed();
    const before = t.snapshot();

    expect(t.service.record(t.callbackParams("queued"), null)).toBe("no_change");
    expect(t.service.record(t.callbackParams("sent"), null)).toBe("no_change");
    expect(t.service.record(t.callbackParams("failed", {}, `SM${"8".repeat(32)}`), null)).toBe(
      "unknown_message",
    );
    expect(t.service.record({}, null)).toBe("unknown_message");
    expect(t.snapshot()).toBe(before);
  });

  test("a number quoted in Twilio's ErrorMessage is masked", () => {
    const t = world();
    const { updateId } = t.seed();
    const params = t.callbackParams("failed", {
      ErrorCode: "63024",
      ErrorMessage: "Invalid message recipient whatsapp:+5511987654321",
    });

    t.service.record(params, null);

    expect(t.updateRow(updateId).whatsappNotifyLastError).toBe(
      "Twilio 63024: Invalid message recipient whatsapp:+55*******4321",
    );
  });

  test("the log line names the message and outcome, never the phone number", () => {
    const t = world();
    t.seed();

    t.service.record(t.callbackParams("failed", { ErrorCode: "63003" }), null);

    const line = t.logs.lines.find((entry) => entry.msg === "twilio status callback");
    expect(line).toMatchObject({
      message_sid: Sid,
      error_code: "63003",
      outcome: "failure_recorded",
    });
    expect(JSON.stringify(t.logs.lines)).not.toContain("5511987654321");
  });
});
