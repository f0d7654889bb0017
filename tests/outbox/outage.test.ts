import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { ResendFake } from "../fakes/resend-fake.ts";
import type { TwilioFake } from "../fakes/twilio-fake.ts";
import { type TestApp, testApp } from "../helpers/app.ts";
import { type FakeProviders, startFakeProviders } from "../helpers/providers.ts";

let providers: FakeProviders;
let resend: ResendFake;
let twilio: TwilioFake;
let t: TestApp;

const Minute = 60_000;
const Hour = 60 * Minute;

beforeEach(() => {
  providers = startFakeProviders();
  ({ resend, twilio } = providers);
  const { email, whatsapp } = providers;
  // With an interval of 30 minutes the simulator moves a case about once an hour.
  t = testApp({ email, whatsapp, env: { CHECK_INTERVAL_MINUTES: "30" } });
});

afterEach(async () => {
  await providers.stop();
});

/** Runs the checker and the outbox every simulated five minutes for `hours`. */
async function live(hours: number) {
  const end = t.clock.now() + hours * Hour;
  while (t.clock.now() < end) {
    await t.checker.tick();
    while ((await t.outbox.runOnce()).claimed > 0) {}
    t.clock.advance(5 * Minute);
  }
}

describe("a provider outage delays messages, never drops or doubles them", () => {
  test("both providers fail for six hours; then every message arrives once, in order", async () => {
    const acme = t.createPartner();
    const userIds: number[] = [];
    for (let i = 0; i < 4; i++) {
      const body = {
        email: `u${i}@example.com`,
        phone: `+551199999000${i}`,
        notify_by_whatsapp: true,
        preferred_language: (["en", "es", "pt", "en"] as const)[i],
      };
      const res = await t.call("POST", "/v1/users", { as: acme, body });
      userIds.push(res.json.id);
      t.database.sqlite.run("UPDATE users SET email_verified_at = 1 WHERE id = ?", [res.json.id]);
      for (const receipt of [`LIN99991065${i}1`, `SRC99991027${i}2`]) {
        await t.call("POST", `/v1/users/${res.json.id}/cases`, {
          as: acme,
          body: { receipt_number: receipt },
        });
      }
    }

    resend.setMode("503");
    twilio.setMode("service_unavailable");
    await live(6);
    expect(resend.delivered).toHaveLength(0);
    expect(twilio.messages).toHaveLength(0);
    const backlog = (await t.call("GET", "/health")).json;
    expect(backlog.outbox.pending).toBeGreaterThan(8);
    expect(backlog.status).toBe("degraded");

    resend.setMode("ok");
    twilio.setMode("ok");
    await live(3);

    const all = t.database.sqlite.query("SELECT * FROM outbox_jobs ORDER BY id").all() as any[];
    expect(all.filter((job) => job.state !== "sent")).toEqual([]);
    const jobs = all.filter((job) => job.channel === "email");
    const keys = resend.delivered.map((mail) => mail.idempotencyKey);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.length).toBe(jobs.length);

    // Per user, e-mails arrived in the order their jobs were written.
    for (const userId of userIds) {
      const expected = jobs
        .filter((job) => job.user_id === userId)
        .map((job) => job.idempotency_key);
      const arrived = keys.filter((key) => expected.includes(key));
      expect(arrived).toEqual(expected);
    }

    // WhatsApp: one message per job, and per user in the order the jobs were written.
    const whatsappJobs = all.filter((job) => job.channel === "whatsapp");
    expect(whatsappJobs.length).toBeGreaterThan(8);
    expect(twilio.messages).toHaveLength(whatsappJobs.length);
    userIds.forEach((userId, i) => {
      const expected = whatsappJobs.filter((job) => job.user_id === userId);
      const arrived = twilio.messages.filter((m) => m.to === `whatsapp:+551199999000${i}`);
      expect(arrived.map((m) => m.sid)).toEqual(expected.map((job) => job.provider_message_id));
    });
    const updates = t.database.sqlite
      .query(
        "SELECT email_notify_status AS e, whatsapp_notify_status AS w, notified " +
          "FROM status_updates",
      )
      .all() as any[];
    expect(updates.length).toBeGreaterThan(8);
    expect(updates.filter((u) => u.e !== "sent" || u.w !== "sent" || u.notified !== 1)).toEqual([]);
    const statusMails = jobs.filter((job) => job.status_update_id !== null);
    expect(statusMails.length).toBeGreaterThan(8);
    expect((await t.call("GET", "/health")).json.status).toBe("ok");
  });
});
