/**
 * A run must end well inside its jobs' lease, or jobs still being sent would count as abandoned.
 * With e-mail paced slowly, the run is cut to what the pace sends in half a lease.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { systemClock } from "../../src/clock.ts";
import { migrate, openDatabase } from "../../src/db/connection.ts";
import { createResendSender } from "../../src/notifications/email-sender.ts";
import { enqueue } from "../../src/outbox/outbox.ts";
import { createOutboxWorker, runSize } from "../../src/outbox/worker.ts";
import { type FakeProviders, ResendTestKey, startFakeProviders } from "../helpers/providers.ts";

let providers: FakeProviders;
beforeEach(() => {
  providers = startFakeProviders();
});
afterEach(() => providers.stop());

test("run sizes follow the e-mail pace and the lease", () => {
  expect(runSize(100, 120_000, 2)).toBe(100);
  expect(runSize(100, 120_000, 0.5)).toBe(30);
  expect(runSize(100, 120_000, 0.001)).toBe(1);
  expect(runSize(100, 120_000, undefined)).toBe(100);
});

test("a slowly paced sender gets a run it can finish inside the lease", async () => {
  const database = openDatabase(":memory:");
  migrate(database);
  const { db } = database;
  const origin = { purpose: "verification" as const, userId: null, statusUpdateId: null };
  db.transaction((tx) => {
    for (let i = 0; i < 5; i++) {
      enqueue(
        tx,
        origin,
        {
          channel: "email",
          message: { to: `u${i}@example.com`, subject: "Hello", html: "<p>hi</p>", text: "hi" },
        },
        systemClock.now(),
      );
    }
  });
  const email = createResendSender({
    apiKey: ResendTestKey,
    baseUrl: providers.resend.url,
    from: "Acme <cases@acme.example>",
    ratePerSecond: 1,
    logger: providers.logger,
  });
  // 5 e-mails at one a second take 4 s, past a 4 s lease; a run of 2 takes 1 s.
  const worker = createOutboxWorker({
    db,
    clock: systemClock,
    logger: providers.logger,
    email,
    whatsapp: providers.whatsapp,
    leaseMs: 4_000,
  });

  const first = await worker.runOnce();

  expect(first.claimed).toBe(2);
  expect(first.sent).toBe(2);
});
