/**
 * A WhatsApp job whose request had started when the process stopped is looked for at Twilio
 * before anything else: found, it is sent with that message's SID; not found once the request
 * can no longer land, it is sent again; a look-up that fails is asked again later, and only a
 * job Twilio could not be asked about for 23 hours is closed as "outcome unknown".
 *
 * Real SQLite files, the real Twilio sender and SDK, and the Twilio fake, whose Messages list
 * serves what it accepted. A crash is a copy of the database and its WAL at that instant.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { manualClock } from "../../src/clock.ts";
import { type DatabaseHandle, migrate, openDatabase } from "../../src/db/connection.ts";
import { createLogger, memoryDestination } from "../../src/logger.ts";
import { createLogEmailSender } from "../../src/notifications/email-sender.ts";
import { createTwilioSender } from "../../src/notifications/whatsapp-sender.ts";
import { releaseHeldJobs } from "../../src/outbox/outbox.queries.ts";
import { enqueue, GiveUpAfterMs } from "../../src/outbox/outbox.ts";
import type { WhatsAppMessage, WhatsAppSender } from "../../src/outbox/types.ts";
import { createOutboxWorker, UnknownWhatsAppOutcome } from "../../src/outbox/worker.ts";
import { startTwilioFake, type TwilioFake } from "../fakes/twilio-fake.ts";
import { copyWithWal } from "../helpers/database-copy.ts";

const AccountSid = `AC${"5e".repeat(16)}`;
const AuthToken = "reconcile-token";
const Phone = "+5511988887777";
/** The worker's default: a two-minute lease plus a minute. */
const ReconcileAfterMs = 180_000;

const logger = createLogger({
  level: "silent",
  format: "json",
  destination: memoryDestination().stream,
});

let twilio: TwilioFake;
let dir: string;
let clock: ReturnType<typeof manualClock>;
const handles: DatabaseHandle[] = [];

beforeEach(() => {
  twilio = startTwilioFake({ accountSid: AccountSid, authToken: AuthToken, slowMs: 300 });
  dir = mkdtempSync(join(tmpdir(), "outbox-reconcile-"));
  // Near real time, so a message stamped by the fake and a job's start share one clock.
  clock = manualClock(Date.now());
  twilio.setClock(clock.now);
});

afterEach(async () => {
  for (const handle of handles.splice(0)) handle.close();
  await twilio.stop();
  rmSync(dir, { recursive: true, force: true });
});

function open(path: string): DatabaseHandle {
  const handle = openDatabase(path);
  handles.push(handle);
  return handle;
}

function fresh(): DatabaseHandle {
  const handle = open(join(dir, "live.db"));
  migrate(handle);
  return handle;
}

const crashCopy = (path: string) => copyWithWal(path, join(dir, "after-crash.db"));

function sender(template = false): WhatsAppSender {
  return createTwilioSender({
    accountSid: AccountSid,
    authToken: AuthToken,
    from: "+14155238886",
    contentSids: template ? { en: `HX${"7a".repeat(16)}` } : {},
    apiBaseUrl: twilio.url,
    logger,
  });
}

function worker(handle: DatabaseHandle, whatsapp = sender(), batchSize?: number) {
  return createOutboxWorker({
    db: handle.db,
    clock,
    logger,
    email: createLogEmailSender(logger),
    whatsapp,
    batchSize,
  });
}

function message(text: string, to = Phone): WhatsAppMessage {
  return { to, language: "en", variables: { "1": text }, text };
}

function addJob(handle: DatabaseHandle, text: string, to = Phone): number {
  const origin = { purpose: "status_update" as const, userId: null, statusUpdateId: null };
  return handle.db.transaction((tx) =>
    enqueue(tx, origin, { channel: "whatsapp", message: message(text, to) }, clock.now()),
  );
}

/** The state a crash leaves once a request's start is committed: taken, started, lease held. */
function interrupt(handle: DatabaseHandle, id: number): number {
  const startedAt = clock.now();
  handle.sqlite.run(
    "UPDATE outbox_jobs SET state = 'in_flight', attempts = attempts + 1, lease_until = ?, " +
      "send_started_at = ? WHERE id = ?",
    [startedAt + 120_000, startedAt, id],
  );
  releaseHeldJobs(handle.db, clock.now());
  return startedAt;
}

const job = (handle: DatabaseHandle, id: number) =>
  handle.sqlite.query("SELECT * FROM outbox_jobs WHERE id = ?").get(id) as Record<string, any>;

const requestLine = () => twilio.requests.map((r) => `${r.method} ${r.status}`);

describe("a WhatsApp send cut short by a crash", () => {
  test("the request reached Twilio: reconciled as sent with its SID, no second one", async () => {
    const live = fresh();
    const id = addJob(live, "Your case moved: Case Was Approved");
    twilio.failNext("slow");
    const run = worker(live).runOnce();
    const deadline = Date.now() + 10_000;
    while (twilio.handling === 0) {
      if (Date.now() > deadline) throw new Error("the message never reached the fake");
      await Bun.sleep(5);
    }
    // The request is inside Twilio; its answer will never be read by the process that asked.
    const copy = crashCopy(join(dir, "live.db"));
    await run;
    expect(twilio.messages).toHaveLength(1);

    const after = open(copy);
    expect(job(after, id)).toMatchObject({ state: "in_flight", provider_message_id: null });
    expect(job(after, id).send_started_at).toBeNumber();
    expect(releaseHeldJobs(after.db, clock.now())).toBe(1);
    clock.advance(2_000);
    expect(await worker(after).runOnce()).toMatchObject({ claimed: 1, sent: 1 });

    expect(twilio.messages).toHaveLength(1);
    expect(job(after, id)).toMatchObject({
      state: "sent",
      provider_message_id: twilio.messages[0]!.sid,
      attempts: 2,
    });
    expect(requestLine()).toEqual(["POST 201", "GET 200"]);
    const lookup = new URL(twilio.requests[1]!.path, twilio.url).searchParams;
    expect(lookup.get("To")).toBe(`whatsapp:${Phone}`);
    expect(lookup.get("From")).toBe("whatsapp:+14155238886");
  });

  test("before the request reached Twilio: waited for, then sent exactly once", async () => {
    const live = fresh();
    const id = addJob(live, "Your case moved: Case Was Received");
    const startedAt = interrupt(live, id);
    clock.advance(3_000);

    // Nothing at Twilio yet, but a request that left a moment ago could still land.
    expect(await worker(live).runOnce()).toMatchObject({ claimed: 1, retried: 1 });
    expect(twilio.messages).toHaveLength(0);
    expect(job(live, id)).toMatchObject({ state: "pending", send_started_at: startedAt });
    expect(job(live, id).next_attempt_at).toBeGreaterThanOrEqual(startedAt + ReconcileAfterMs);

    clock.set(startedAt + ReconcileAfterMs);
    expect(await worker(live).runOnce()).toMatchObject({ claimed: 1, sent: 1 });
    expect(twilio.messages).toHaveLength(1);
    const sent = job(live, id);
    expect(sent).toMatchObject({ state: "sent", provider_message_id: twilio.messages[0]!.sid });
    // The new request's start was written down before it left, as for any send.
    expect(sent.send_started_at).toBe(startedAt + ReconcileAfterMs);
    expect(requestLine()).toEqual(["GET 200", "GET 200", "POST 201"]);

    clock.advance(60 * 60_000);
    expect(await worker(live).runOnce()).toMatchObject({ claimed: 0 });
    expect(twilio.messages).toHaveLength(1);
  });

  test("a look-up that fails is retried with the start kept, and nothing is sent", async () => {
    const live = fresh();
    const id = addJob(live, "Your case moved: Card Was Mailed");
    const startedAt = interrupt(live, id);
    clock.advance(ReconcileAfterMs);

    for (const mode of ["server_error", "too_many_requests", "connection_reset"] as const) {
      twilio.failNext(mode);
      expect(await worker(live).runOnce()).toMatchObject({ claimed: 1, retried: 1 });
      expect(twilio.messages).toHaveLength(0);
      const row = job(live, id);
      expect(row).toMatchObject({ state: "pending", send_started_at: startedAt });
      expect(row.last_error).toStartWith("looking for an interrupted send: Twilio");
      clock.set(row.next_attempt_at);
    }
    expect(requestLine()).toEqual(["GET 500", "GET 429", "GET 0"]);

    // Twilio answers at last, with nothing there: long past the start, so it is sent now.
    expect(await worker(live).runOnce()).toMatchObject({ claimed: 1, sent: 1 });
    expect(twilio.messages).toHaveLength(1);
    expect(job(live, id)).toMatchObject({ state: "sent", attempts: 5 });
  });

  test("after 23 hours of failed look-ups the job gives up as outcome unknown", async () => {
    const live = fresh();
    const id = addJob(live, "Your case moved: Case Was Denied");
    interrupt(live, id);
    twilio.setMode("service_unavailable");
    clock.advance(60_000);
    expect(await worker(live).runOnce()).toMatchObject({ retried: 1 });

    clock.advance(GiveUpAfterMs);
    expect(await worker(live).runOnce()).toMatchObject({ claimed: 1, failed: 1 });
    expect(job(live, id)).toMatchObject({ state: "failed", last_error: UnknownWhatsAppOutcome });
    expect(twilio.messages).toHaveLength(0);
    expect(twilio.requests.every((r) => r.method === "GET")).toBe(true);
  });

  test("a template sent just before to the same number is that job's, not this one's", async () => {
    const live = fresh();
    const template = sender(true);
    const first = addJob(live, "first update");
    expect(await worker(live, template).runOnce()).toMatchObject({ sent: 1 });
    // Same second, and a template's body cannot be compared: only the SID on the first job
    // tells the two apart.
    const second = addJob(live, "second update");
    const startedAt = interrupt(live, second);
    clock.advance(ReconcileAfterMs);

    expect(await worker(live, template).runOnce()).toMatchObject({ claimed: 1, sent: 1 });
    expect(twilio.messages).toHaveLength(2);
    expect(job(live, first).provider_message_id).toBe(twilio.messages[0]!.sid);
    expect(job(live, second).provider_message_id).toBe(twilio.messages[1]!.sid);
    expect(job(live, second).send_started_at).toBe(startedAt + ReconcileAfterMs);
  });

  test("free text: another message to the number in the window is not taken", async () => {
    const live = fresh();
    const id = addJob(live, "Your case moved: Case Was Approved");
    interrupt(live, id);
    // Another text to the same number (say another partner's user), never an outbox job here.
    const other = await sender().send(message("Your case moved: Case Was Reopened"), "other");
    expect(other.outcome).toBe("sent");
    clock.advance(ReconcileAfterMs);

    expect(await worker(live).runOnce()).toMatchObject({ claimed: 1, sent: 1 });
    expect(twilio.messages.map((m) => m.body)).toEqual([
      "Your case moved: Case Was Reopened",
      "Your case moved: Case Was Approved",
    ]);
    expect(job(live, id).provider_message_id).toBe(twilio.messages[1]!.sid);
  });

  test("a message found early is taken at once, without waiting for it to settle", async () => {
    const live = fresh();
    const id = addJob(live, "Your case moved: Fingerprint Fee Was Received");
    const startedAt = interrupt(live, id);
    // The crashed request, landing at Twilio a second after its start.
    clock.advance(1_000);
    await sender().send(message("Your case moved: Fingerprint Fee Was Received"), "crashed");
    clock.set(startedAt + 5_000);

    expect(await worker(live).runOnce()).toMatchObject({ claimed: 1, sent: 1 });
    expect(twilio.messages).toHaveLength(1);
    expect(job(live, id).provider_message_id).toBe(twilio.messages[0]!.sid);
  });

  test("a crash with several requests in flight: each is found, none is sent twice", async () => {
    const live = fresh();
    const ids = [1, 2, 3, 4, 5].map((i) => addJob(live, `update ${i}`, `+551198888000${i}`));
    twilio.setMode("slow");
    // A batch of four, which go at once with their starts in one commit; the fifth waits.
    const run = worker(live, sender(), 4).runOnce();
    const deadline = Date.now() + 10_000;
    while (twilio.handling < 4) {
      if (Date.now() > deadline) throw new Error(`only ${twilio.handling} requests at once`);
      await Bun.sleep(5);
    }
    const copy = crashCopy(join(dir, "live.db"));
    await run;
    expect(twilio.messages).toHaveLength(4);

    const after = open(copy);
    const atCrash = ids.map((id) => job(after, id));
    expect(atCrash.map((row) => row.state)).toEqual([...Array(4).fill("in_flight"), "pending"]);
    const starts = atCrash.map((row) => row.send_started_at);
    expect(starts.slice(0, 4).every((at) => at !== null && at === starts[0])).toBe(true);

    twilio.setMode("ok");
    releaseHeldJobs(after.db, clock.now());
    clock.advance(2_000);
    expect(await worker(after).runOnce()).toMatchObject({ claimed: 5, sent: 5 });
    // The four were found at Twilio, each its own message; the fifth went out now.
    expect(twilio.messages).toHaveLength(5);
    const bySid = new Map(twilio.messages.map((m) => [m.sid, m.body]));
    for (const [index, id] of ids.entries()) {
      expect(bySid.get(job(after, id).provider_message_id)).toBe(`update ${index + 1}`);
    }
    expect(new Set(twilio.messages.map((m) => m.body)).size).toBe(5);
    expect(twilio.requests.filter((r) => r.method === "GET")).toHaveLength(4);
  });

  test("a request that timed out may have landed: the retry looks before it sends", async () => {
    const live = fresh();
    const id = addJob(live, "your case moved");
    twilio.setMode("slow");
    const impatient = createTwilioSender({
      accountSid: AccountSid,
      authToken: AuthToken,
      from: "+14155238886",
      contentSids: {},
      apiBaseUrl: twilio.url,
      logger,
      timeoutMs: 50,
    });
    expect(await worker(live, impatient).runOnce()).toMatchObject({ retried: 1 });
    expect(job(live, id).send_started_at).not.toBeNull();
    // Twilio took the message after all, once the client had given up on the answer.
    const deadline = Date.now() + 5_000;
    while (twilio.messages.length === 0 && Date.now() < deadline) await Bun.sleep(10);
    expect(twilio.messages).toHaveLength(1);

    twilio.setMode("ok");
    clock.advance(ReconcileAfterMs);
    expect(await worker(live).runOnce()).toMatchObject({ sent: 1 });
    expect(twilio.messages).toHaveLength(1);
    expect(job(live, id).provider_message_id).toBe(twilio.messages[0]!.sid);
  });

  test("a refusal that cannot have sent anything clears the start", async () => {
    const live = fresh();
    const id = addJob(live, "your case moved");
    twilio.failNext("too_many_requests");
    expect(await worker(live).runOnce()).toMatchObject({ retried: 1 });
    expect(job(live, id).send_started_at).toBeNull();
  });

  test("two jobs to one number are never in flight together", async () => {
    const live = fresh();
    addJob(live, "first to this number");
    addJob(live, "second to this number");
    addJob(live, "to another number", "+5511977776666");
    twilio.setMode("slow");
    let most = 0;
    const run = worker(live).runOnce();
    while (twilio.messages.length < 3) {
      most = Math.max(most, twilio.handling);
      await Bun.sleep(5);
    }
    expect(await run).toMatchObject({ sent: 3 });
    // The first alone; the second starts a new group, which the third joins.
    expect(most).toBe(2);
    expect(twilio.messages[0]!.body).toBe("first to this number");
    expect(
      twilio.messages
        .slice(1)
        .map((m) => m.body)
        .sort(),
    ).toEqual(["second to this number", "to another number"]);
  });

  test("a start that cannot be written sends nothing, and the job is tried again", async () => {
    const live = fresh();
    const id = addJob(live, "Your case moved: Case Was Approved");
    live.sqlite.run(
      `CREATE TRIGGER refuse_start BEFORE UPDATE OF send_started_at ON outbox_jobs
       WHEN NEW.send_started_at IS NOT NULL BEGIN SELECT RAISE(ABORT, 'disk full'); END`,
    );
    expect(await worker(live).runOnce()).toMatchObject({ claimed: 1, retried: 1 });
    expect(twilio.requests).toHaveLength(0);
    expect(job(live, id)).toMatchObject({
      state: "pending",
      send_started_at: null,
      last_error: "disk full",
    });

    live.sqlite.run("DROP TRIGGER refuse_start");
    clock.set(job(live, id).next_attempt_at);
    expect(await worker(live).runOnce()).toMatchObject({ sent: 1 });
    expect(twilio.messages).toHaveLength(1);
  });
});
