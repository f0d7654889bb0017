import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { GiveUpAfterMs } from "../../src/outbox/outbox.ts";
import type { ResendFake } from "../fakes/resend-fake.ts";
import { type Credentials, type TestApp, testApp } from "../helpers/app.ts";
import { type FakeProviders, startFakeProviders } from "../helpers/providers.ts";

let providers: FakeProviders;
let resend: ResendFake;
let t: TestApp;
let acme: Credentials;

beforeEach(() => {
  providers = startFakeProviders();
  resend = providers.resend;
  t = testApp({ email: providers.email });
  acme = t.createPartner();
});

afterEach(async () => {
  await providers.stop();
});

const jobs = () => t.database.sqlite.query("SELECT * FROM outbox_jobs ORDER BY id").all() as any[];

async function createUser(email: string) {
  const res = await t.call("POST", "/v1/users", { as: acme, body: { email } });
  return res.json.id as number;
}

describe("the outbox delivers through Resend", () => {
  test("a verification e-mail arrives once with the job's key; the token is erased", async () => {
    await createUser("ana@example.com");
    const [job] = jobs();
    expect(await t.outbox.runOnce()).toMatchObject({ claimed: 1, sent: 1 });
    expect(resend.delivered).toHaveLength(1);
    expect(resend.delivered[0]).toMatchObject({
      idempotencyKey: job.idempotency_key,
      to: "ana@example.com",
    });
    expect(resend.delivered[0]!.text).toMatch(/token=ifv_[A-Za-z0-9]{43}/);
    const [after] = jobs();
    expect(after).toMatchObject({ state: "sent", attempts: 1, last_error: null });
    expect(after.provider_message_id).toBe(resend.delivered[0]!.id);
    expect(after.payload).not.toMatch(/ifv_[A-Za-z0-9]{43}/);
    expect(await t.outbox.runOnce()).toMatchObject({ claimed: 0 });
  });

  test("a 503 is retried with backoff and the same key; nothing goes out twice", async () => {
    await createUser("ana@example.com");
    resend.failNext(2, 503, "internal_server_error");
    expect(await t.outbox.runOnce()).toMatchObject({ claimed: 1, retried: 1 });
    const [waiting] = jobs();
    expect(waiting).toMatchObject({ state: "pending", attempts: 1 });
    expect(waiting.next_attempt_at).toBeGreaterThan(t.clock.now());
    expect(await t.outbox.runOnce()).toMatchObject({ claimed: 0 });

    t.clock.set(waiting.next_attempt_at);
    expect(await t.outbox.runOnce()).toMatchObject({ retried: 1 });
    t.clock.set(jobs()[0].next_attempt_at);
    expect(await t.outbox.runOnce()).toMatchObject({ sent: 1 });
    expect(resend.delivered).toHaveLength(1);
    const keys = new Set(resend.requests.map((request) => request.idempotencyKey));
    expect(keys.size).toBe(1);
    expect(jobs()[0]).toMatchObject({ state: "sent", attempts: 3 });
  });

  test("a permanent error fails the job at once", async () => {
    await createUser("ana@example.com");
    resend.failNext(1, 422, "validation_error");
    expect(await t.outbox.runOnce()).toMatchObject({ failed: 1 });
    expect(jobs()[0]).toMatchObject({ state: "failed" });
    expect(jobs()[0].last_error).toContain("validation_error");
  });

  test("a dead sender's job is taken again after its lease; Resend dedups it", async () => {
    await createUser("ana@example.com");
    // The process accepted the e-mail at Resend and died before it could write that down.
    resend.setMode("reset-connection", { afterAccept: true, times: 1 });
    await t.outbox.runOnce();
    expect(resend.delivered).toHaveLength(1);
    t.database.sqlite.run("UPDATE outbox_jobs SET state = 'in_flight', lease_until = ?", [
      t.clock.now() + 120_000,
    ]);
    expect(await t.outbox.runOnce()).toMatchObject({ claimed: 0 });
    t.clock.advance(121_000);
    expect(await t.outbox.runOnce()).toMatchObject({ claimed: 1, sent: 1 });
    expect(resend.delivered).toHaveLength(1);
    expect(resend.requests.length).toBeGreaterThanOrEqual(2);
  });

  test("a user's messages go in order: a later one waits for earlier retries", async () => {
    const id = await createUser("ana@example.com");
    t.clock.advance(1000);
    await t.call("PUT", `/v1/users/${id}`, { as: acme, body: { email: "ana.souza@example.com" } });
    await createUser("bia@example.com");
    resend.failNext(1, 503, "internal_server_error");

    const first = await t.outbox.runOnce();
    // Ana's first e-mail failed; her second must wait for it, Bia's is independent.
    expect(first).toMatchObject({ claimed: 2, retried: 1, sent: 1 });
    expect(resend.delivered.map((d) => d.to)).toEqual(["bia@example.com"]);
    t.clock.set(Math.max(...jobs().map((job) => job.next_attempt_at)));
    await t.outbox.runOnce();
    await t.outbox.runOnce();
    expect(resend.delivered.map((d) => d.to)).toEqual([
      "bia@example.com",
      "ana@example.com",
      "ana.souza@example.com",
    ]);
  });

  test("an outage past Resend's key window ends in failed, never a duplicate", async () => {
    await createUser("ana@example.com");
    resend.setMode("503");
    const started = t.clock.now();
    let runs = 0;
    while (t.clock.now() - started <= GiveUpAfterMs + 3600_000 && runs < 500) {
      await t.outbox.runOnce();
      const [job] = jobs();
      if (job.state !== "pending") break;
      t.clock.set(job.next_attempt_at);
      runs += 1;
    }
    expect(jobs()[0].state).toBe("failed");
    expect(jobs()[0].last_error).toContain("gave up after 23 hours");
    expect(resend.delivered).toHaveLength(0);
  });
});

describe("status updates tell verified users", () => {
  test("the first observation sends one 'now watching' e-mail, fields say sent", async () => {
    const id = await createUser("ana@example.com");
    await t.outbox.runOnce();
    t.database.sqlite.run("UPDATE users SET email_verified_at = 1 WHERE id = ?", [id]);
    const created = await t.call("POST", `/v1/users/${id}/cases`, {
      as: acme,
      body: { receipt_number: "EAC9999103403", description: "Ana's I-130" },
    });
    await t.checker.tick();
    const before = await t.call("GET", `/v1/users/${id}/cases/${created.json.case.id}`, {
      as: acme,
    });
    expect(before.json.status_updates[0]).toMatchObject({
      email_notify_status: "pending",
      whatsapp_notify_status: "skipped",
      whatsapp_notify_last_error: "not opted in",
      notified: 0,
    });

    expect(await t.outbox.runOnce()).toMatchObject({ sent: 1 });
    const after = await t.call("GET", `/v1/users/${id}/cases/${created.json.case.id}`, {
      as: acme,
    });
    expect(after.json.status_updates[0]).toMatchObject({
      email_notify_status: "sent",
      email_notify_attempts: 1,
      email_notify_last_error: null,
      email_notify_sent_at: "2026-05-04T12:00:00.000Z",
      notified: 1,
    });
    const mail = resend.delivered.at(-1)!;
    expect(mail.subject).toContain("EAC9999103403");
    expect(mail.text).toContain("Ana's I-130");
  });

  test("an unverified address is skipped with its reason and nothing is queued", async () => {
    const id = await createUser("ana@example.com");
    await t.outbox.runOnce();
    await t.call("POST", `/v1/users/${id}/cases`, {
      as: acme,
      body: { receipt_number: "EAC9999103403" },
    });
    await t.checker.tick();
    const list = t.database.sqlite
      .query("SELECT email_notify_status, email_notify_last_error FROM status_updates")
      .all();
    expect(list).toEqual([
      { email_notify_status: "skipped", email_notify_last_error: "e-mail not verified" },
    ]);
    expect(jobs().filter((job) => job.purpose === "status_update")).toHaveLength(0);
  });
});
