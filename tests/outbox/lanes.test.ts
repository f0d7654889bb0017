/**
 * Each channel has its own lane: a run of paced e-mails holds neither webhook deliveries nor
 * WhatsApp, and a sign-in code goes before the bulk mail queued ahead of it.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { systemClock } from "../../src/clock.ts";
import { createResendSender } from "../../src/notifications/email-sender.ts";
import { enqueue, type JobOrigin } from "../../src/outbox/outbox.ts";
import { emailRunSize, startOutboxLoop } from "../../src/outbox/worker.ts";
import { type FakeProviders, ResendTestKey, startFakeProviders } from "../helpers/providers.ts";
import { type WebhookFixture, webhookFixture } from "../webhooks/setup.ts";

let providers: FakeProviders;
let fixture: WebhookFixture | undefined;

beforeEach(() => {
  providers = startFakeProviders();
});

afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
  await providers.stop();
});

/** Resend's default pace, as serve runs it. */
const pacedEmail = (perSecond: number) =>
  createResendSender({
    apiKey: ResendTestKey,
    baseUrl: providers.resend.url,
    from: "Acme <cases@acme.example>",
    ratePerSecond: perSecond,
    logger: providers.logger,
    clock: systemClock,
  });

async function until(done: () => boolean, timeoutMs: number) {
  const end = Date.now() + timeoutMs;
  while (!done() && Date.now() < end) await Bun.sleep(10);
}

describe("the channels deliver independently", () => {
  test("webhook events go out while a run of paced e-mails is still being sent", async () => {
    fixture = webhookFixture({ email: pacedEmail(2) });
    const { t, acme, receiver } = fixture;
    await fixture.subscribe({ events: ["user.created"] });
    // Each new user queues a verification e-mail and a user.created event.
    for (let i = 0; i < 8; i++) {
      await t.call("POST", "/v1/users", { as: acme, body: { email: `u${i}@example.com` } });
    }
    const loop = startOutboxLoop(t.outbox, t.logger, 20);
    try {
      // Eight e-mails at two a second take 3.5 s; the events need not wait for them.
      await until(() => receiver.deliveries.length >= 8, 3_000);
      expect(receiver.deliveries).toHaveLength(8);
      expect(providers.resend.delivered.length).toBeLessThan(8);
      await until(() => providers.resend.delivered.length >= 8, 6_000);
      expect(providers.resend.delivered).toHaveLength(8);
    } finally {
      await loop.stop();
    }
    const open = t.database.sqlite
      .query("SELECT count(*) AS n FROM outbox_jobs WHERE state IN ('pending', 'in_flight')")
      .get() as { n: number };
    expect(open.n).toBe(0);
  }, 15_000);
});

describe("sign-in codes go before bulk mail", () => {
  const email = (to: string, subject: string) => ({
    channel: "email" as const,
    message: { to, subject, html: `<p>${subject}</p>`, text: subject },
  });

  test("a code queued behind a full run of verification e-mails goes in the first", async () => {
    fixture = webhookFixture({ email: providers.email });
    const { t } = fixture;
    const bulk: JobOrigin = { purpose: "verification", userId: null, statusUpdateId: null };
    const code: JobOrigin = { purpose: "login_code", userId: null, statusUpdateId: null };
    t.db.transaction((tx) => {
      for (let i = 0; i < 120; i++) {
        enqueue(tx, bulk, email(`u${i}@example.com`, "Verify"), t.clock.now());
      }
      enqueue(tx, code, email("ana@example.com", "Your code"), t.clock.now());
    });

    const first = await t.outbox.runOnce();

    expect(first.claimed).toBe(100);
    const to = providers.resend.delivered.map((mail) => String(mail.to));
    expect(to).toContain("ana@example.com");
    // First in line at the pacer too, not merely somewhere in the run.
    expect(providers.resend.requests[0]!.body).toMatchObject({ subject: "Your code" });
  });

  test("a code does not wait for the same user's e-mail waiting for its retry", async () => {
    fixture = webhookFixture({ email: providers.email });
    const { t, acme } = fixture;
    const created = await t.call("POST", "/v1/users", {
      as: acme,
      body: { email: "ana@example.com" },
    });
    const userId = created.json.id as number;
    // Its verification e-mail met a Resend outage and is due again in an hour.
    t.database.sqlite
      .query("UPDATE outbox_jobs SET next_attempt_at = ? WHERE user_id = ? AND channel = 'email'")
      .run(t.clock.now() + 60 * 60 * 1000, userId);
    const code: JobOrigin = { purpose: "login_code", userId, statusUpdateId: null };
    t.db.transaction((tx) => {
      enqueue(tx, code, email("ana@example.com", "Your code"), t.clock.now());
    });

    await t.outbox.runOnce();

    const subjects = providers.resend.requests.map(
      (request) => (request.body as { subject: string }).subject,
    );
    expect(subjects).toEqual(["Your code"]);
  });

  test("a paced e-mail run holds what the pace sends in a few seconds", () => {
    expect(emailRunSize(100, 120_000, 2)).toBe(10);
    expect(emailRunSize(100, 120_000, 0.5)).toBe(3);
    expect(emailRunSize(100, 120_000, 50)).toBe(100);
    expect(emailRunSize(100, 120_000, undefined)).toBe(100);
  });
});

describe("stopping with a delivery cut short", () => {
  test("the stop keeps its deadline and says which jobs are handed back", async () => {
    fixture = webhookFixture({ webhookSender: { timeoutMs: 10_000 } });
    const { t, acme, receiver } = fixture;
    const { secret } = await fixture.subscribe({ events: ["user.created"] });
    receiver.answer("slow", { delayMs: 3_000 });
    await t.call("POST", "/v1/users", { as: acme, body: { email: "ana@example.com" } });
    const [job] = fixture.webhookJobs();
    const loop = startOutboxLoop(t.outbox, t.logger, 20);
    await until(() => receiver.deliveries.length > 0, 2_000);

    const started = Date.now();
    await loop.stop(started + 200);

    expect(Date.now() - started).toBeLessThan(1_500);
    const warning = t.logs.lines.find((line) => String(line.msg).startsWith("outbox stopped"));
    expect(warning).toMatchObject({ level: "warn", jobs: 1, channels: { webhook: 1 } });
    expect(warning!.job_ids).toEqual([job!.id]);
    const text = JSON.stringify(warning);
    expect(text).not.toContain(receiver.url);
    expect(text).not.toContain(secret);
    // Still held, so the restart's releaseHeldJobs hands it to the next sender.
    expect(fixture.webhookJobs()[0]).toMatchObject({ state: "in_flight" });
  });

  test("a stop with nothing in flight logs no warning", async () => {
    fixture = webhookFixture();
    const loop = startOutboxLoop(fixture.t.outbox, fixture.t.logger, 20);
    await Bun.sleep(50);
    await loop.stop(Date.now() + 1_000);
    expect(fixture.t.logs.lines.some((line) => line.level === "warn")).toBe(false);
  });
});
