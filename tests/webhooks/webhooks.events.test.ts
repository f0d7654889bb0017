import { afterEach, describe, expect, test } from "bun:test";
import { FailingAfter } from "../../src/checker/cadence.ts";
import type { Observation } from "../../src/uscis/types.ts";
import { startResendFake } from "../fakes/resend-fake.ts";
import { startTorchFake } from "../fakes/torch-fake.ts";
import type { ReceivedDelivery } from "../fakes/webhook-receiver.ts";
import { Approved } from "../uscis/torch-setup.ts";
import { type WebhookFixture, webhookFixture } from "./setup.ts";

const Hour = 3600_000;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The app against the Torch fake (sandbox mode), so a test decides what USCIS answers. */
function withTorch(extraEnv: Record<string, string> = {}) {
  const torch = startTorchFake({
    clientId: "webhook-tests",
    clientSecret: "webhook-tests-secret",
    cases: { [Approved.receiptNumber]: Approved },
  });
  const fx = webhookFixture({
    env: {
      USCIS_MODE: "sandbox",
      USCIS_CLIENT_ID: "webhook-tests",
      USCIS_CLIENT_SECRET: "webhook-tests-secret",
      USCIS_API_BASE_URL: torch.url,
      USCIS_TOKEN_URL: torch.tokenUrl,
      USCIS_RATE_PER_SECOND: "1000",
      ...extraEnv,
    },
  });
  cleanups.push(
    () => fx.close(),
    () => torch.stop(),
  );
  return { fx, torch };
}

function plain() {
  const fx = webhookFixture();
  cleanups.push(() => fx.close());
  return fx;
}

/** Delivers what is queued and answers the events, by type, that reached the receiver. */
async function received(fx: WebhookFixture, type?: string): Promise<ReceivedDelivery[]> {
  await fx.drain();
  for (const delivery of fx.receiver.deliveries) {
    expect(delivery.verified, delivery.problem).toBe(true);
  }
  return fx.receiver.deliveries.filter((d) => type === undefined || d.event?.type === type);
}

async function createUser(fx: WebhookFixture, body: Record<string, unknown> = {}) {
  const res = await fx.t.call("POST", "/v1/users", {
    as: fx.acme,
    body: { email: "ana@example.com", ...body },
  });
  expect(res.status).toBe(201);
  return res.json;
}

async function createCase(fx: WebhookFixture, userId: number, receipt = Approved.receiptNumber) {
  const res = await fx.t.call("POST", `/v1/users/${userId}/cases`, {
    as: fx.acme,
    body: { receipt_number: receipt, description: "Ana's I-130" },
  });
  expect(res.status).toBe(201);
  return res.json;
}

async function caseSummary(fx: WebhookFixture, userId: number) {
  const res = await fx.t.call("GET", `/v1/users/${userId}/cases`, { as: fx.acme });
  return res.json.cases[0];
}

/** The StatusUpdate as the API shows it, without who was told what. */
async function observedStatus(fx: WebhookFixture, userId: number, caseId: number, index = 0) {
  const res = await fx.t.call("GET", `/v1/users/${userId}/cases/${caseId}`, { as: fx.acme });
  const update = { ...res.json.status_updates[index] };
  for (const field of Object.keys(update)) {
    if (field === "notified" || /_notify_/.test(field)) delete update[field];
  }
  return update;
}

describe("user events", () => {
  test("user.created carries the User as the API answered it", async () => {
    const fx = plain();
    await fx.subscribe();
    const user = await createUser(fx, { name: "Ana Souza", preferred_language: "pt" });
    const [event] = await received(fx, "user.created");
    expect(event!.event).toMatchObject({ type: "user.created", data: user });
    expect(event!.event!.created_at).toBe(user.created_at);
  });

  test("user.email_verified when the back office vouches for an address", async () => {
    const fx = plain();
    await fx.subscribe({ events: ["user.email_verified"] });
    const vouched = await fx.t.call("POST", "/v1/client/users", {
      as: fx.acme,
      body: { email: "bia@example.com", email_verified: true },
    });
    const later = await createUser(fx);
    expect(await received(fx, "user.email_verified")).toHaveLength(1);
    const verified = await fx.t.call("PUT", `/v1/client/users/${later.id}`, {
      as: fx.acme,
      body: { email_verified: true },
    });
    const events = await received(fx, "user.email_verified");
    expect(events.map((e) => e.event!.data.id)).toEqual([vouched.json.id, later.id]);
    expect(events[1]!.event!.data).toEqual(verified.json);
  });

  test("user.updated carries the new User; a PUT that changes nothing sends nothing", async () => {
    const fx = plain();
    await fx.subscribe({ events: ["user.updated"] });
    const user = await createUser(fx);
    fx.t.clock.advance(60_000);
    const same = await fx.t.call("PUT", `/v1/users/${user.id}`, {
      as: fx.acme,
      body: { preferred_language: user.preferred_language },
    });
    expect(same.status).toBe(200);
    expect(await received(fx, "user.updated")).toHaveLength(0);

    const changed = await fx.t.call("PUT", `/v1/users/${user.id}`, {
      as: fx.acme,
      body: { name: "Ana Souza", status: "disabled" },
    });
    const events = await received(fx, "user.updated");
    expect(events).toHaveLength(1);
    expect(events[0]!.event!.data).toEqual(changed.json);
    expect(events[0]!.event!.data).toMatchObject({ name: "Ana Souza", status: "disabled" });
  });

  test("user.deleted carries the User as it was; its cases go without case.deleted", async () => {
    const fx = plain();
    await fx.subscribe();
    const user = await createUser(fx, { name: "Ana" });
    await createCase(fx, user.id);
    const before = await fx.t.call("GET", `/v1/users/${user.id}`, { as: fx.acme });

    const res = await fx.t.call("DELETE", `/v1/users/${user.id}`, { as: fx.acme });
    expect(res.status).toBe(204);

    const [deleted] = await received(fx, "user.deleted");
    expect(deleted!.event!.data).toEqual(before.json);
    expect(await received(fx, "case.deleted")).toHaveLength(0);
  });

  test("a refused change emits nothing", async () => {
    const fx = plain();
    await fx.subscribe();
    await createUser(fx);
    const taken = await fx.t.call("POST", "/v1/users", {
      as: fx.acme,
      body: { email: "ana@example.com" },
    });
    expect(taken.status).toBe(409);
    const missing = await fx.t.call("DELETE", "/v1/users/999", { as: fx.acme });
    expect(missing.status).toBe(404);
    expect((await received(fx)).map((d) => d.event!.type)).toEqual(["user.created"]);
  });
});

describe("case events", () => {
  test("case.created carries the CaseSummary and user_id", async () => {
    const fx = plain();
    await fx.subscribe({ events: ["case.created"] });
    const user = await createUser(fx);
    const created = await createCase(fx, user.id);

    const [event] = await received(fx, "case.created");
    expect(event!.event!.data).toEqual({ ...(await caseSummary(fx, user.id)), user_id: user.id });
    expect(event!.event!.data).toMatchObject({
      id: created.case.id,
      user_case_id: created.case.user_case_id,
      receipt_number: "EAC9999103403",
      status_code: null,
      update_count: 0,
    });
    expect(fx.receiver.deliveries).toHaveLength(1);
  });

  test("case.deleted carries the case as it was before it went", async () => {
    const fx = plain();
    await fx.subscribe({ events: ["case.deleted"] });
    const user = await createUser(fx);
    const created = await createCase(fx, user.id);
    await fx.t.checker.tick();
    const before = await caseSummary(fx, user.id);
    expect(before.status_code).toBe("Case Was Approved");

    const res = await fx.t.call("DELETE", `/v1/users/${user.id}/cases/${created.case.id}`, {
      as: fx.acme,
    });
    expect(res.status).toBe(204);

    const [event] = await received(fx, "case.deleted");
    expect(event!.event!.data).toEqual({ ...before, user_id: user.id });
  });

  test("the first observation is case.status_changed with kind initial", async () => {
    const { fx } = withTorch();
    await fx.subscribe({ events: ["case.status_changed", "case.record_updated"] });
    const user = await createUser(fx);
    const created = await createCase(fx, user.id);

    await fx.t.checker.tick();

    const [event] = await received(fx, "case.status_changed");
    expect(event!.event!.data).toEqual({
      case: { ...(await caseSummary(fx, user.id)), user_id: user.id },
      status_update: await observedStatus(fx, user.id, created.case.id),
    });
    expect(event!.event!.data.status_update).toMatchObject({
      kind: "initial",
      status_code: "Case Was Approved",
      category: "approved",
    });
    expect(event!.event!.data.case).toMatchObject({
      status_code: "Case Was Approved",
      update_count: 1,
      last_checked: "2026-05-04T12:00:00.000Z",
      check_error: null,
    });
    expect(event!.event!.data.status_update).not.toHaveProperty("email_notify_status");
  });

  test("a new title is status_changed; moved dates or history are record_updated", async () => {
    const { fx, torch } = withTorch();
    await fx.subscribe({ events: ["case.status_changed", "case.record_updated"] });
    const user = await createUser(fx);
    const created = await createCase(fx, user.id);
    await fx.t.checker.tick();

    const mailed: Observation = {
      ...Approved,
      statusTitle: "Card Was Mailed To Me",
      statusDescription:
        "On September 9, 2023, we mailed your new card for Receipt Number EAC9999103403.",
      modifiedAt: Approved.modifiedAt! + 4 * 24 * Hour,
    };
    torch.setCase(Approved.receiptNumber, mailed);
    fx.t.clock.advance(7 * Hour);
    await fx.t.checker.tick();

    const touched: Observation = {
      ...mailed,
      modifiedAt: mailed.modifiedAt! + 24 * Hour,
      history: [
        ...Approved.history,
        { date: "2023-09-09", description: "We mailed your card.", descriptionEs: null },
      ],
    };
    torch.setCase(Approved.receiptNumber, touched);
    fx.t.clock.advance(7 * Hour);
    await fx.t.checker.tick();

    const events = await received(fx);
    expect(events.map((d) => [d.event!.type, d.event!.data.status_update.kind])).toEqual([
      ["case.status_changed", "initial"],
      ["case.status_changed", "status_changed"],
      ["case.record_updated", "record_updated"],
    ]);
    const last = events[2]!.event!.data;
    expect(last).toEqual({
      case: { ...(await caseSummary(fx, user.id)), user_id: user.id },
      status_update: await observedStatus(fx, user.id, created.case.id),
    });
    expect(last.case).toMatchObject({ status_code: "Card Was Mailed To Me", update_count: 3 });
    expect(events[1]!.event!.data.status_update).toEqual(
      await observedStatus(fx, user.id, created.case.id, 1),
    );
  });

  test("case.check_failing goes out once, after FailingAfter failures", async () => {
    const { fx, torch } = withTorch();
    await fx.subscribe({ events: ["case.check_failing"] });
    const user = await createUser(fx);
    await createCase(fx, user.id);
    torch.setMode("service_unavailable");

    for (let tick = 1; tick <= FailingAfter + 2; tick += 1) {
      const summary = await fx.t.checker.tick();
      expect(summary.failed).toBe(1);
      if (tick === FailingAfter - 1) expect(await received(fx)).toHaveLength(0);
      fx.t.clock.advance(3 * Hour);
    }

    const events = await received(fx, "case.check_failing");
    expect(events).toHaveLength(1);
    const summary = await caseSummary(fx, user.id);
    expect(events[0]!.event!.data).toEqual({
      case: { ...summary, user_id: user.id },
      check: {
        consecutive_failures: FailingAfter,
        failing_since: new Date(
          Date.UTC(2026, 4, 4, 12) + (FailingAfter - 1) * 3 * Hour,
        ).toISOString(),
      },
    });
    expect(summary.check_error).toBe("upstream_unavailable");
    // What the source said stays in our logs, not in a partner's inbox.
    const lastError = fx.t.database.sqlite.query("SELECT last_error FROM receipts").get() as {
      last_error: string;
    };
    expect(lastError.last_error).toContain("Service Unavailable");
    expect(fx.receiver.deliveries[0]!.rawBody).not.toContain("Service Unavailable");
  });
});

describe("notification.failed", () => {
  test("an e-mail about a status update that cannot be delivered is reported", async () => {
    const resend = startResendFake({ apiKey: "re_webhook_tests" });
    const fx = webhookFixture({
      env: {
        RESEND_API_KEY: "re_webhook_tests",
        RESEND_BASE_URL: resend.url,
        EMAIL_FROM: "Acme <cases@acme.example>",
        EMAIL_RATE_PER_SECOND: "1000",
      },
    });
    cleanups.push(
      () => fx.close(),
      () => resend.stop(),
    );
    await fx.subscribe({ events: ["notification.failed"] });
    const user = await createUser(fx);
    await fx.drain();
    fx.t.database.sqlite.run("UPDATE users SET email_verified_at = ? WHERE id = ?", [
      fx.t.clock.now(),
      user.id,
    ]);
    const created = await createCase(fx, user.id);
    await fx.t.checker.tick();
    resend.failNext(1, 422, "validation_error", "Invalid `to` field.");

    const [event] = await received(fx, "notification.failed");

    expect(event).toBeDefined();
    const status = await observedStatus(fx, user.id, created.case.id);
    expect(event!.event!.data).toEqual({
      case: { ...(await caseSummary(fx, user.id)), user_id: user.id },
      status_update: status,
      notification: {
        channel: "email",
        attempts: 1,
        error: expect.stringContaining("validation_error"),
      },
    });
    const details = await fx.t.call("GET", `/v1/users/${user.id}/cases/${created.case.id}`, {
      as: fx.acme,
    });
    expect(details.json.status_updates[0].email_notify_status).toBe("failed");
    // The verification e-mail went out; only a status update's message is reported.
    expect(await received(fx, "notification.failed")).toHaveLength(1);
  });

  test("a message that goes out reports nothing", async () => {
    const resend = startResendFake({ apiKey: "re_webhook_tests" });
    const fx = webhookFixture({
      env: {
        RESEND_API_KEY: "re_webhook_tests",
        RESEND_BASE_URL: resend.url,
        EMAIL_RATE_PER_SECOND: "1000",
      },
    });
    cleanups.push(
      () => fx.close(),
      () => resend.stop(),
    );
    await fx.subscribe({ events: ["notification.failed"] });
    const user = await createUser(fx);
    fx.t.database.sqlite.run("UPDATE users SET email_verified_at = 1 WHERE id = ?", [user.id]);
    await createCase(fx, user.id);
    await fx.t.checker.tick();
    await fx.drain();
    expect(resend.delivered.length).toBeGreaterThanOrEqual(1);
    expect(fx.receiver.deliveries).toHaveLength(0);
  });
});

describe("who hears of an event", () => {
  test("only the partner's own webhooks, and only for the events they chose", async () => {
    const fx = plain();
    const globex = fx.t.createPartner("Globex Immigration");
    await fx.subscribe({ events: ["case.created"] });
    const theirs = await fx.t.call("POST", "/v1/webhooks", {
      as: globex,
      body: { url: fx.receiver.url },
    });
    expect(theirs.status).toBe(201);

    await createUser(fx);
    const globexUser = await fx.t.call("POST", "/v1/users", {
      as: globex,
      body: { email: "zed@example.com" },
    });
    expect(globexUser.status).toBe(201);

    const jobs = fx.webhookJobs();
    expect(jobs.map((job) => [job.webhook_id, JSON.parse(job.payload).event.type])).toEqual([
      [theirs.json.id, "user.created"],
    ]);
    expect(JSON.parse(jobs[0]!.payload).event.data.email).toBe("zed@example.com");
  });
});
