import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { TwilioFake } from "../fakes/twilio-fake.ts";
import { type Credentials, type TestApp, testApp } from "../helpers/app.ts";
import { type FakeProviders, startFakeProviders } from "../helpers/providers.ts";

let providers: FakeProviders;
let twilio: TwilioFake;
let t: TestApp;
let acme: Credentials;

beforeEach(() => {
  providers = startFakeProviders({
    accountSid: `AC${"cd".repeat(16)}`,
    emailFrom: "a@acme.example",
    contentSids: { pt: `HX${"12".repeat(16)}` },
  });
  twilio = providers.twilio;
  t = testApp({ email: providers.email, whatsapp: providers.whatsapp });
  acme = t.createPartner();
});

afterEach(async () => {
  await providers.stop();
});

async function watchedCase(language: "en" | "pt") {
  const user = await t.call("POST", "/v1/users", {
    as: acme,
    body: {
      email: "ana@example.com",
      phone: "+5511999990000",
      notify_by_whatsapp: true,
      preferred_language: language,
    },
  });
  t.database.sqlite.run("UPDATE users SET email_verified_at = 1 WHERE id = ?", [user.json.id]);
  await t.outbox.runOnce();
  await t.call("POST", `/v1/users/${user.json.id}/cases`, {
    as: acme,
    body: { receipt_number: "EAC9999103403" },
  });
  await t.checker.tick();
  return user.json.id as number;
}

const statusUpdate = () => t.database.sqlite.query("SELECT * FROM status_updates").get() as any;

describe("WhatsApp through the outbox", () => {
  test("a template goes out where one is configured for the language", async () => {
    await watchedCase("pt");
    await t.outbox.runOnce();
    expect(twilio.messages).toHaveLength(1);
    const [message] = twilio.messages;
    expect(message!.contentSid).toBe(`HX${"12".repeat(16)}`);
    expect(Object.values(JSON.parse(message!.contentVariables!)).every((v) => v !== "")).toBe(true);
    expect(statusUpdate()).toMatchObject({
      whatsapp_notify_status: "sent",
      email_notify_status: "sent",
      notified: 1,
    });
  });

  test("free text where no template is configured", async () => {
    await watchedCase("en");
    await t.outbox.runOnce();
    expect(twilio.messages[0]!.contentSid ?? null).toBeNull();
    expect(twilio.messages[0]!.body).toContain("EAC9999103403");
  });

  test("63016 fails WhatsApp for good while the e-mail still goes", async () => {
    await watchedCase("en");
    twilio.failNext("outside_window");
    await t.outbox.runOnce();
    t.clock.advance(60 * 60_000);
    await t.outbox.runOnce();
    expect(twilio.messages).toHaveLength(0);
    const update = statusUpdate();
    expect(update).toMatchObject({
      whatsapp_notify_status: "failed",
      email_notify_status: "sent",
      notified: 1,
    });
    expect(update.whatsapp_notify_last_error).toContain("63016");
  });

  test("21610 (opted out) fails the job and turns WhatsApp off for the user", async () => {
    const userId = await watchedCase("en");
    twilio.failNext("opted_out");
    await t.outbox.runOnce();
    expect(statusUpdate().whatsapp_notify_status).toBe("failed");
    const user = await t.call("GET", `/v1/users/${userId}`, { as: acme });
    expect(user.json.notify_by_whatsapp).toBe(false);
  });

  test("20429 is retried with backoff and then delivered once", async () => {
    await watchedCase("en");
    twilio.failNext("too_many_requests");
    expect(await t.outbox.runOnce()).toMatchObject({ retried: 1 });
    expect(statusUpdate()).toMatchObject({
      whatsapp_notify_status: "pending",
      whatsapp_notify_attempts: 1,
    });
    t.clock.advance(60 * 60_000);
    await t.outbox.runOnce();
    expect(twilio.messages).toHaveLength(1);
    expect(statusUpdate()).toMatchObject({
      whatsapp_notify_status: "sent",
      whatsapp_notify_attempts: 2,
    });
  });

  test("a WhatsApp job that reached Twilio before a crash is found, not sent", async () => {
    await watchedCase("en");
    twilio.setClock(t.clock.now);
    const job = t.database.sqlite
      .query("SELECT * FROM outbox_jobs WHERE channel = 'whatsapp'")
      .get() as any;
    // What the crashed process's request left at Twilio, and in the database.
    await providers.whatsapp.send(JSON.parse(job.payload).message, job.idempotency_key);
    t.database.sqlite.run(
      "UPDATE outbox_jobs SET state = 'in_flight', lease_until = ?, send_started_at = ? " +
        "WHERE channel = 'whatsapp'",
      [t.clock.now() + 1000, t.clock.now()],
    );
    t.clock.advance(5000);
    await t.outbox.runOnce();
    expect(twilio.messages).toHaveLength(1);
    expect(statusUpdate()).toMatchObject({ whatsapp_notify_status: "sent", notified: 1 });
    const after = t.database.sqlite.query("SELECT * FROM outbox_jobs WHERE id = ?").get(job.id);
    expect(after).toMatchObject({ state: "sent", provider_message_id: twilio.messages[0]!.sid });
  });

  test("a WhatsApp job taken but not started at a crash is sent normally", async () => {
    await watchedCase("en");
    t.database.sqlite.run(
      "UPDATE outbox_jobs SET state = 'in_flight', lease_until = ? WHERE channel = 'whatsapp'",
      [t.clock.now() + 1000],
    );
    t.clock.advance(5000);
    await t.outbox.runOnce();
    expect(twilio.messages).toHaveLength(1);
    expect(statusUpdate().whatsapp_notify_status).toBe("sent");
  });
});
