import { afterEach, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { manualClock } from "../../src/clock.ts";
import { loadConfig } from "../../src/config.ts";
import { migrate, openDatabase } from "../../src/db/connection.ts";
import { createLogger, memoryDestination } from "../../src/logger.ts";
import { createEmailSender } from "../../src/notifications/email-sender.ts";
import { createWhatsAppSender } from "../../src/notifications/whatsapp-sender.ts";
import { WebhookRetryScheduleMs } from "../../src/outbox/outbox.ts";
import { createOutboxWorker } from "../../src/outbox/worker.ts";
import { createPartnersService } from "../../src/partners/partners.service.ts";
import { createUsersService } from "../../src/users/users.service.ts";
import { Version } from "../../src/version.ts";
import { createWebhookSender } from "../../src/webhooks/webhook-sender.ts";
import { createWebhooksService } from "../../src/webhooks/webhooks.service.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../fakes/webhook-receiver.ts";
import { type WebhookFixture, webhookFixture } from "./setup.ts";

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function fixture(options: Parameters<typeof webhookFixture>[0] = {}): WebhookFixture {
  const fx = webhookFixture(options);
  cleanups.push(() => fx.close());
  return fx;
}

function receiver(options: Parameters<typeof startWebhookReceiver>[0] = {}): WebhookReceiver {
  const started = startWebhookReceiver(options);
  cleanups.push(() => started.stop());
  return started;
}

async function createUser(fx: WebhookFixture, email = "ana@example.com") {
  const res = await fx.t.call("POST", "/v1/users", { as: fx.acme, body: { email } });
  expect(res.status).toBe(201);
  return res.json;
}

async function deliveries(fx: WebhookFixture, id: number) {
  const res = await fx.t.call("GET", `/v1/webhooks/${id}/deliveries?limit=200`, { as: fx.acme });
  return res.json.deliveries as Record<string, unknown>[];
}

/** Moves the clock to the webhook job's next attempt and runs the outbox once. */
async function nextAttempt(fx: WebhookFixture) {
  const job = fx.webhookJobs()[0]!;
  fx.t.clock.set(job.next_attempt_at);
  return fx.t.outbox.runOnce();
}

describe("a delivery", () => {
  test("is a signed Standard Webhooks POST of the event, verified by the receiver", async () => {
    const fx = fixture();
    const { secret } = await fx.subscribe();
    const user = await createUser(fx);
    const [job] = fx.webhookJobs();

    // The user's verification e-mail is the other job: no provider, so it is only logged.
    expect(await fx.t.outbox.runOnce()).toMatchObject({ sent: 1, skipped: 1 });

    expect(fx.receiver.deliveries).toHaveLength(1);
    const received = fx.receiver.deliveries[0]!;
    expect(received).toMatchObject({
      verified: true,
      status: 200,
      contentType: "application/json",
      userAgent: `ImmigraFlow-Webhooks/${Version}`,
      id: job!.event_id,
      timestamp: String(Math.floor(fx.t.clock.now() / 1000)),
      host: `127.0.0.1:${fx.receiver.port}`,
      path: "/hooks",
    });
    expect(received.id).toMatch(/^evt_[0-9A-Z]{26}$/);
    expect(received.event).toEqual({
      id: received.id!,
      type: "user.created",
      created_at: "2026-05-04T12:00:00.000Z",
      data: user,
    });
    // Recomputed here by hand as well: one v1 entry over id.timestamp.body with the key bytes.
    const key = Buffer.from(secret.slice("whsec_".length), "base64");
    const expected = createHmac("sha256", key)
      .update(`${received.id}.${received.timestamp}.${received.rawBody}`)
      .digest("base64");
    expect(received.signature).toBe(`v1,${expected}`);
    expect(fx.webhookJobs()[0]).toMatchObject({ state: "sent", attempts: 1 });
  });

  test("a receiver with the wrong secret refuses it, and that is a failure to retry", async () => {
    const fx = fixture();
    const { id } = await fx.subscribe();
    fx.receiver.setSecret(`whsec_${Buffer.alloc(32, 7).toString("base64")}`);
    await createUser(fx);
    await fx.drain();
    expect(fx.receiver.deliveries[0]).toMatchObject({
      verified: false,
      problem: "no matching v1 signature",
      status: 401,
    });
    expect(fx.webhookJobs()[0]).toMatchObject({ state: "pending", last_error: "HTTP 401" });
    expect((await deliveries(fx, id))[0]).toMatchObject({ outcome: "retrying" });
  });

  test("each subscribed webhook gets its own delivery, signed with its own secret", async () => {
    const fx = fixture();
    const other = receiver({ now: () => fx.t.clock.now() });
    await fx.subscribe();
    const second = await fx.t.call("POST", "/v1/webhooks", {
      as: fx.acme,
      body: { url: other.url, events: ["user.created"] },
    });
    other.setSecret(second.json.secret);
    const unrelated = await fx.t.call("POST", "/v1/webhooks", {
      as: fx.acme,
      body: { url: fx.receiver.url, events: ["case.created"] },
    });
    expect(unrelated.status).toBe(201);

    await createUser(fx);
    await fx.drain();

    expect(fx.receiver.accepted).toHaveLength(1);
    expect(other.accepted).toHaveLength(1);
    // One event, one id, whichever endpoint it goes to.
    expect(other.accepted[0]!.id).toBe(fx.receiver.accepted[0]!.id);
  });
});

describe("retries keep the event's id", () => {
  test("after 500s and a timeout, the same webhook-id is sent with a fresh timestamp", async () => {
    const fx = fixture({ webhookSender: { timeoutMs: 200 } });
    const { id } = await fx.subscribe();
    await createUser(fx);
    fx.receiver.answer("500", { times: 2 });

    expect(await fx.t.outbox.runOnce()).toMatchObject({ retried: 1 });
    expect(await nextAttempt(fx)).toMatchObject({ retried: 1 });
    fx.receiver.answer("slow", { delayMs: 1_500, times: 1 });
    expect(await nextAttempt(fx)).toMatchObject({ retried: 1 });
    expect(await nextAttempt(fx)).toMatchObject({ sent: 1 });

    const seen = fx.receiver.deliveries;
    expect(seen).toHaveLength(4);
    expect(new Set(seen.map((d) => d.id)).size).toBe(1);
    expect(seen.map((d) => d.repeat)).toEqual([false, true, true, true]);
    expect(seen.every((d) => d.verified)).toBe(true);
    expect(new Set(seen.map((d) => d.timestamp)).size).toBe(4);
    expect(new Set(seen.map((d) => d.rawBody)).size).toBe(1);

    const log = await deliveries(fx, id);
    expect(log.map((d) => [d.attempt, d.outcome, d.response_status, d.error])).toEqual([
      [4, "delivered", 200, null],
      [3, "retrying", null, "timeout after 200 ms"],
      [2, "retrying", 500, "HTTP 500"],
      [1, "retrying", 500, "HTTP 500"],
    ]);
  });

  test("retries follow API.md's schedule; after its last step the delivery fails", async () => {
    const fx = fixture();
    const { id } = await fx.subscribe();
    await createUser(fx);
    fx.receiver.answer("503");

    await fx.t.outbox.runOnce();
    for (const delayMs of WebhookRetryScheduleMs) {
      const job = fx.webhookJobs()[0]!;
      expect(job.state).toBe("pending");
      const waited = job.next_attempt_at - fx.t.clock.now();
      // The outbox spreads each delay by a tenth either way.
      expect(waited).toBeGreaterThanOrEqual(delayMs * 0.9);
      expect(waited).toBeLessThanOrEqual(delayMs * 1.1);
      fx.t.clock.set(job.next_attempt_at - 1);
      expect(await fx.t.outbox.runOnce()).toMatchObject({ claimed: 0 });
      await nextAttempt(fx);
    }

    const attempts = WebhookRetryScheduleMs.length + 1;
    expect(fx.webhookJobs()[0]).toMatchObject({
      state: "failed",
      attempts,
      last_error: `gave up after ${attempts} attempts; last error: HTTP 503`,
    });
    expect(fx.receiver.deliveries).toHaveLength(attempts);
    expect(new Set(fx.receiver.deliveries.map((d) => d.id)).size).toBe(1);

    const log = await deliveries(fx, id);
    expect(log).toHaveLength(attempts);
    expect(log[0]).toMatchObject({ attempt: attempts, outcome: "failed" });
    expect(log.slice(1).every((d) => d.outcome === "retrying")).toBe(true);
    const webhook = await fx.t.call("GET", `/v1/webhooks/${id}`, { as: fx.acme });
    expect(webhook.json).toMatchObject({
      active: true,
      last_delivery_status: "failed",
      consecutive_failures: attempts,
    });

    fx.t.clock.advance(48 * 3600_000);
    expect(await fx.t.outbox.runOnce()).toMatchObject({ claimed: 0 });
  });

  test("a success resets the webhook's count of failures in a row", async () => {
    const fx = fixture();
    const { id } = await fx.subscribe();
    fx.receiver.answer("500", { times: 3 });
    await createUser(fx);
    await fx.drain();
    await nextAttempt(fx);
    await nextAttempt(fx);
    const failing = await fx.t.call("GET", `/v1/webhooks/${id}`, { as: fx.acme });
    expect(failing.json).toMatchObject({
      consecutive_failures: 3,
      last_delivery_status: "retrying",
    });
    await nextAttempt(fx);
    const healthy = await fx.t.call("GET", `/v1/webhooks/${id}`, { as: fx.acme });
    expect(healthy.json).toMatchObject({
      consecutive_failures: 0,
      last_delivery_status: "delivered",
    });
  });

  test("a new worker on the same database file sends the event under its id", async () => {
    const folder = mkdtempSync(join(tmpdir(), "immigraflow-webhooks-"));
    cleanups.push(() => rmSync(folder, { recursive: true, force: true }));
    const path = join(folder, "immigraflow.db");
    const clock = manualClock();
    const partnerEndpoint = receiver({ now: () => clock.now() });
    const logger = createLogger({
      level: "silent",
      format: "json",
      destination: memoryDestination().stream,
    });
    const config = loadConfig({ DATABASE_PATH: path }, false);
    const guard = { allowPrivate: true, allowHttp: true };

    function start() {
      const database = openDatabase(path);
      migrate(database);
      const worker = createOutboxWorker({
        db: database.db,
        clock,
        logger,
        email: createEmailSender(config, logger),
        whatsapp: createWhatsAppSender(config, logger),
        webhooks: createWebhookSender({ db: database.db, clock, ...guard }),
      });
      return { database, worker };
    }

    const first = start();
    const { client } = createPartnersService(first.database.db, clock).create({
      name: "Restart Partner",
      email: "ops@restart.example",
    });
    const hook = await createWebhooksService({ db: first.database.db, clock, guard }).create(
      client,
      { url: partnerEndpoint.url },
    );
    partnerEndpoint.setSecret(hook.secret);
    createUsersService({ db: first.database.db, clock, publicBaseUrl: "http://x" }).create(client, {
      email: "ana@example.com",
    });
    partnerEndpoint.answer("500", { times: 1 });
    await first.worker.runOnce();
    // A second attempt that the process never finished: taken, then the process is gone.
    const pending = first.database.sqlite
      .query("SELECT next_attempt_at FROM outbox_jobs WHERE channel = 'webhook'")
      .get() as { next_attempt_at: number };
    clock.set(pending.next_attempt_at);
    first.database.sqlite.run(
      "UPDATE outbox_jobs SET state = 'in_flight', attempts = attempts + 1, lease_until = ? " +
        "WHERE channel = 'webhook'",
      [clock.now() + 120_000],
    );
    first.database.close();

    clock.advance(121_000);
    const second = start();
    cleanups.push(() => second.database.close());
    expect(await second.worker.runOnce()).toMatchObject({ sent: 1 });

    expect(partnerEndpoint.deliveries).toHaveLength(2);
    expect(partnerEndpoint.accepted).toHaveLength(1);
    expect(partnerEndpoint.deliveries[1]!.id).toBe(partnerEndpoint.deliveries[0]!.id);
    const job = second.database.sqlite
      .query("SELECT state, attempts FROM outbox_jobs WHERE channel = 'webhook'")
      .get();
    expect(job).toEqual({ state: "sent", attempts: 3 });
  });
});

describe("what an endpoint answers", () => {
  test("410 disables the webhook at once; queued events fail without a request", async () => {
    const fx = fixture();
    const { id } = await fx.subscribe();
    await createUser(fx, "ana@example.com");
    await createUser(fx, "bia@example.com");
    fx.receiver.answer("410", { times: 1 });

    await fx.drain();

    expect(fx.receiver.deliveries).toHaveLength(1);
    const [gone, queued] = fx.webhookJobs();
    expect(gone).toMatchObject({
      state: "failed",
      attempts: 1,
      last_error: "the endpoint answered 410 Gone; webhook disabled",
    });
    expect(queued).toMatchObject({ state: "failed", last_error: "webhook disabled" });
    const webhook = await fx.t.call("GET", `/v1/webhooks/${id}`, { as: fx.acme });
    expect(webhook.json).toMatchObject({
      active: false,
      disabled_reason: "the endpoint answered 410 Gone",
      last_delivery_status: "failed",
      consecutive_failures: 1,
    });
    const log = await deliveries(fx, id);
    expect(log.map((d) => [d.outcome, d.response_status, d.error])).toEqual([
      ["failed", null, "webhook disabled"],
      ["failed", 410, "the endpoint answered 410 Gone; webhook disabled"],
    ]);

    await createUser(fx, "caio@example.com");
    expect(fx.webhookJobs()).toHaveLength(2);
  });

  test("a 302 is not followed: the target sees nothing and the delivery is retried", async () => {
    const fx = fixture();
    const target = receiver();
    const { id } = await fx.subscribe();
    fx.receiver.answer("redirect", { location: target.url, times: 1 });
    await createUser(fx);

    expect(await fx.t.outbox.runOnce()).toMatchObject({ retried: 1 });

    expect(target.deliveries).toHaveLength(0);
    expect(fx.webhookJobs()[0]).toMatchObject({
      state: "pending",
      last_error: "redirect (302) not followed",
    });
    expect((await deliveries(fx, id))[0]).toMatchObject({
      outcome: "retrying",
      response_status: 302,
      error: "redirect (302) not followed",
    });
    await nextAttempt(fx);
    expect(fx.receiver.accepted).toHaveLength(1);
    expect(target.deliveries).toHaveLength(0);
  });

  test("only about a kilobyte of the answer is read, and 512 characters kept", async () => {
    const fx = fixture();
    const { id } = await fx.subscribe();
    fx.receiver.answer("500", { times: 1, body: "é".repeat(300_000) });
    await createUser(fx);
    await fx.drain();
    const [attempt] = await deliveries(fx, id);
    expect(attempt!.response_excerpt).toBe("é".repeat(512));
  });

  test("a connection refused is a network error to retry", async () => {
    const fx = fixture();
    const closed = receiver();
    const url = closed.url;
    await closed.stop();
    const { id } = await fx.subscribe({ url });
    await createUser(fx);
    await fx.drain();
    const [attempt] = await deliveries(fx, id);
    expect(attempt).toMatchObject({ outcome: "retrying", response_status: null });
    expect(attempt!.error).toStartWith("network error: ");
    expect(fx.webhookJobs()[0]!.state).toBe("pending");
  });
});

describe("the connection goes to the address that was vetted", () => {
  const Name = "hooks.immigraflow.test";
  const resolve = async (hostname: string) => {
    if (hostname !== Name) throw new Error(`ENOTFOUND ${hostname}`);
    return [{ address: "127.0.0.1", family: 4 as const }];
  };

  /** The system resolver has never heard of this name: only a pinned connection reaches it. */
  async function webhookAt(fx: WebhookFixture, url: string) {
    const literal = new URL(url);
    literal.hostname = "127.0.0.1";
    const created = await fx.subscribe({ url: literal.href });
    fx.t.database.sqlite.run("UPDATE webhooks SET url = ? WHERE id = ?", [url, created.id]);
    return created;
  }

  test("over http, with the name in Host", async () => {
    const fx = fixture({ webhookSender: { resolve } });
    await webhookAt(fx, `http://${Name}:${fx.receiver.port}/hooks`);
    await createUser(fx);
    await fx.drain();
    expect(fx.receiver.accepted).toHaveLength(1);
    expect(fx.receiver.accepted[0]!.host).toBe(`${Name}:${fx.receiver.port}`);
  });

  const openssl = Bun.which("openssl");

  test.skipIf(!openssl)(
    "over https, with the name in SNI and checked in the certificate",
    async () => {
      const folder = mkdtempSync(join(tmpdir(), "immigraflow-tls-"));
      cleanups.push(() => rmSync(folder, { recursive: true, force: true }));
      const made = Bun.spawnSync([
        openssl!,
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        `/CN=${Name}`,
        "-addext",
        `subjectAltName=DNS:${Name}`,
        "-keyout",
        join(folder, "key.pem"),
        "-out",
        join(folder, "cert.pem"),
      ]);
      expect(made.exitCode).toBe(0);
      const cert = readFileSync(join(folder, "cert.pem"), "utf8");
      const key = readFileSync(join(folder, "key.pem"), "utf8");

      const fx = fixture({
        env: { WEBHOOK_ALLOW_HTTP: "false" },
        webhookSender: { resolve, ca: cert },
      });
      const secure = receiver({ now: () => fx.t.clock.now(), tls: { cert, key } });
      const { secret } = await webhookAt(fx, `https://${Name}:${secure.port}/hooks`);
      secure.setSecret(secret);
      await createUser(fx);
      await fx.drain();
      expect(secure.accepted).toHaveLength(1);
      expect(secure.accepted[0]!.host).toBe(`${Name}:${secure.port}`);

      // The same server under a name its certificate does not carry is refused by TLS.
      const other = "other.immigraflow.test";
      const fx2 = fixture({
        webhookSender: { resolve: async () => [{ address: "127.0.0.1", family: 4 }], ca: cert },
      });
      const { id: id2 } = await webhookAt(fx2, `https://${other}:${secure.port}/hooks`);
      await createUser(fx2);
      await fx2.drain();
      expect(secure.deliveries).toHaveLength(1);
      const [attempt] = await deliveries(fx2, id2);
      expect(attempt).toMatchObject({ outcome: "retrying", response_status: null });
      expect(String(attempt!.error)).toContain("network error");
    },
  );
});
