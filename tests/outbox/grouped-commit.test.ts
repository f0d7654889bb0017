/**
 * The outbox commits finished jobs' outcomes several at a time. A crash between a provider's
 * answer and that commit must cost no more than a crash during the request did: the e-mail is
 * asked for again under its Idempotency-Key (Resend sends nothing twice) and its secrets are
 * erased once it is over. WhatsApp, which has no such key, never leaves an outcome waiting.
 *
 * The crash is taken as a copy of the database file and its WAL at that instant, which is what
 * a SIGKILL leaves on disk; a new worker then starts on the copy.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { manualClock } from "../../src/clock.ts";
import { type DatabaseHandle, migrate, openDatabase } from "../../src/db/connection.ts";
import { releaseHeldJobs } from "../../src/outbox/outbox.queries.ts";
import { enqueue } from "../../src/outbox/outbox.ts";
import { createOutboxWorker } from "../../src/outbox/worker.ts";
import { copyWithWal } from "../helpers/database-copy.ts";
import { type FakeProviders, startFakeProviders } from "../helpers/providers.ts";

const Secret = "ifv_grouped_commit_secret_token";
const SlowMs = 1500;

let providers: FakeProviders;
let dir: string;
const handles: DatabaseHandle[] = [];

beforeEach(() => {
  providers = startFakeProviders();
  dir = mkdtempSync(join(tmpdir(), "outbox-grouped-"));
});

afterEach(async () => {
  for (const handle of handles.splice(0)) handle.close();
  await providers.stop();
  rmSync(dir, { recursive: true, force: true });
});

function open(path: string): DatabaseHandle {
  const handle = openDatabase(path);
  handles.push(handle);
  return handle;
}

const crashCopy = (path: string) => copyWithWal(path, join(dir, "after-crash.db"));

function worker(handle: DatabaseHandle, clock: ReturnType<typeof manualClock>, windowMs?: number) {
  return createOutboxWorker({
    db: handle.db,
    clock,
    logger: providers.logger,
    email: providers.email,
    whatsapp: providers.whatsapp,
    commitWindowMs: windowMs,
  });
}

const jobs = (handle: DatabaseHandle) =>
  handle.sqlite.query("SELECT * FROM outbox_jobs ORDER BY id").all() as Record<string, any>[];

describe("a crash between a provider's answer and the grouped commit", () => {
  test("the e-mail is asked again under its key, sent once; WhatsApp never waits", async () => {
    const clock = manualClock();
    const live = open(join(dir, "live.db"));
    migrate(live);
    const origin = { purpose: "verification" as const, userId: null, statusUpdateId: null };
    live.db.transaction((tx) => {
      enqueue(
        tx,
        origin,
        {
          channel: "email",
          message: {
            to: "ana@example.com",
            subject: "Confirm your address",
            html: `<a href="https://x.example/v?token=${Secret}">confirm</a>`,
            text: `https://x.example/v?token=${Secret}`,
          },
          redact: [Secret],
        },
        clock.now(),
      );
      enqueue(
        tx,
        origin,
        {
          channel: "email",
          message: { to: "bia@example.com", subject: "Hello", html: "<p>hi</p>", text: "hi" },
        },
        clock.now(),
      );
      enqueue(
        tx,
        origin,
        {
          channel: "whatsapp",
          message: { to: "+5511999990000", language: "en", variables: { "1": "x" }, text: "hi" },
        },
        clock.now(),
      );
    });

    // The e-mails go out together; Resend answers one at once and holds the other. The answered
    // one's outcome waits for company (a minute, here) while the other is still at Resend. The
    // WhatsApp message went out at once.
    const { resend, twilio } = providers;
    resend.setMode("slow", { delayMs: SlowMs, times: 1 });
    const run = worker(live, clock, 60_000).runOnce();
    const deadline = Date.now() + 10_000;
    const whatsappSent = () =>
      live.sqlite
        .query("SELECT 1 FROM outbox_jobs WHERE channel = 'whatsapp' AND state = 'sent'")
        .get() !== null;
    // The WhatsApp message is written down while the held e-mail is still at Resend.
    while (!(resend.requests.length === 2 && resend.delivered.length === 1 && whatsappSent())) {
      if (Date.now() > deadline) throw new Error("one e-mail answered, WhatsApp written: never");
      await Bun.sleep(5);
    }
    const copy = crashCopy(join(dir, "live.db"));
    expect(resend.requests.filter((request) => request.status === 0)).toHaveLength(1);
    expect(twilio.messages).toHaveLength(1);
    await run;

    const after = open(copy);
    const [first, second, whatsapp] = jobs(after);
    // Answered, yet not written down: the window this test is about.
    expect(first).toMatchObject({ state: "in_flight", provider_message_id: null });
    expect(first!.payload).toContain(Secret);
    expect(second).toMatchObject({ state: "in_flight", provider_message_id: null });
    // A WhatsApp outcome never waits for company across a request: the next message's start,
    // or the end of the channel's turn, commits it before anything else is awaited.
    expect(whatsapp).toMatchObject({ state: "sent", provider_message_id: twilio.messages[0]!.sid });

    expect(releaseHeldJobs(after.db, clock.now())).toBe(2);
    expect(await worker(after, clock).runOnce()).toMatchObject({ claimed: 2, sent: 2 });

    const [firstAfter, secondAfter] = jobs(after);
    // Resend answered the repeats with the first e-mails' ids and delivered nothing new.
    expect(resend.delivered).toHaveLength(2);
    expect(resend.requests).toHaveLength(4);
    const keys = resend.requests.map((request) => request.idempotencyKey);
    const [firstKey, secondKey] = [first!.idempotency_key, second!.idempotency_key];
    expect(keys.slice(0, 2).sort()).toEqual([firstKey, secondKey].sort());
    expect(keys.slice(2).sort()).toEqual([firstKey, secondKey].sort());
    const idFor = (key: string) => resend.delivered.find((e) => e.idempotencyKey === key)!.id;
    expect(firstAfter).toMatchObject({ state: "sent", provider_message_id: idFor(firstKey) });
    expect(secondAfter).toMatchObject({ state: "sent", provider_message_id: idFor(secondKey) });
    expect(firstAfter!.payload).not.toContain(Secret);
    expect(twilio.messages).toHaveLength(1);
  });

  test("an outcome that cannot be written does not take the others in its group down", async () => {
    const clock = manualClock();
    const live = open(join(dir, "live.db"));
    migrate(live);
    live.db.transaction((tx) => {
      for (let i = 0; i < 3; i += 1) {
        const origin = { purpose: "verification" as const, userId: null, statusUpdateId: null };
        const message = { to: `u${i}@example.com`, subject: "Hi", html: "<p>hi</p>", text: "hi" };
        enqueue(tx, origin, { channel: "email", message }, clock.now());
      }
    });
    const [, middle] = jobs(live);
    // A real write failure for one row only: the database refuses to finish the middle job.
    live.sqlite.run(
      `CREATE TRIGGER refuse_middle BEFORE UPDATE OF state ON outbox_jobs
       WHEN NEW.id = ${middle!.id} AND NEW.state = 'sent'
       BEGIN SELECT RAISE(ABORT, 'refused'); END`,
    );

    await expect(worker(live, clock, 60_000).runOnce()).rejects.toThrow("refused");
    expect(jobs(live).map((job) => job.state)).toEqual(["sent", "in_flight", "sent"]);
    expect(providers.resend.delivered).toHaveLength(3);

    live.sqlite.run("DROP TRIGGER refuse_middle");
    clock.advance(121_000);
    expect(await worker(live, clock).runOnce()).toMatchObject({ claimed: 1, sent: 1 });
    expect(jobs(live).map((job) => job.state)).toEqual(["sent", "sent", "sent"]);
    expect(providers.resend.delivered).toHaveLength(3);
  });
});
