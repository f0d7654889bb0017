/**
 * A batch's requests go out together, not one after another: what a delivery costs is mostly
 * waiting on the provider. E-mails need nothing committed first (their key makes a repeat
 * harmless); WhatsApp messages go out behind one commit of their starts, so a crash while they
 * are in flight leaves every one of them marked to be looked for.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Clock, manualClock } from "../../src/clock.ts";
import { type DatabaseHandle, migrate, openDatabase } from "../../src/db/connection.ts";
import { enqueue, type JobPayload } from "../../src/outbox/outbox.ts";
import { createOutboxWorker } from "../../src/outbox/worker.ts";
import { copyWithWal } from "../helpers/database-copy.ts";
import { type FakeProviders, startFakeProviders } from "../helpers/providers.ts";

let providers: FakeProviders;
let dir: string;
const handles: DatabaseHandle[] = [];

beforeEach(() => {
  providers = startFakeProviders();
  dir = mkdtempSync(join(tmpdir(), "outbox-in-flight-"));
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

function seeded(payloads: JobPayload[], clock: Clock = manualClock()) {
  const live = open(join(dir, "live.db"));
  migrate(live);
  const origin = { purpose: "verification" as const, userId: null, statusUpdateId: null };
  live.db.transaction((tx) => {
    for (const payload of payloads) enqueue(tx, origin, payload, clock.now());
  });
  const worker = createOutboxWorker({
    db: live.db,
    clock,
    logger: providers.logger,
    email: providers.email,
    whatsapp: providers.whatsapp,
  });
  return { live, worker };
}

async function until(condition: () => boolean, what: string) {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await Bun.sleep(5);
  }
}

const email = (i: number): JobPayload => ({
  channel: "email",
  message: { to: `u${i}@example.com`, subject: "Hello", html: "<p>hi</p>", text: "hi" },
});

const whatsapp = (i: number): JobPayload => ({
  channel: "whatsapp",
  message: {
    to: `+55119999${String(i).padStart(5, "0")}`,
    language: "en",
    variables: { "1": "x" },
    text: "hi",
  },
});

describe("a batch's requests are in flight together", () => {
  test("e-mails are all at Resend before the first is answered", async () => {
    const { resend } = providers;
    const { worker } = seeded(Array.from({ length: 8 }, (_, i) => email(i)));
    resend.setMode("slow", { delayMs: 1000, times: 8 });

    const run = worker.runOnce();
    await until(() => resend.requests.length === 8, "eight e-mails at Resend at once");
    expect(resend.delivered).toHaveLength(0);

    expect(await run).toMatchObject({ claimed: 8, sent: 8 });
    expect(resend.delivered).toHaveLength(8);
  });

  test("WhatsApp messages to sixteen numbers go together, all starts committed first", async () => {
    const { twilio } = providers;
    const { live, worker } = seeded(Array.from({ length: 16 }, (_, i) => whatsapp(i)));
    twilio.failNext("slow", 16);

    const run = worker.runOnce();
    await until(() => twilio.handling === 16, "sixteen messages at Twilio at once");
    // What a SIGKILL now would leave: each of them marked as possibly at Twilio.
    const crashed = open(copyWithWal(join(dir, "live.db"), join(dir, "crashed.db")));
    const starts = crashed.sqlite
      .query("SELECT send_started_at AS at FROM outbox_jobs WHERE state = 'in_flight'")
      .all() as { at: number | null }[];
    expect(starts).toHaveLength(16);
    expect(starts.every((row) => row.at !== null)).toBe(true);

    expect(await run).toMatchObject({ claimed: 16, sent: 16 });
    expect(twilio.messages).toHaveLength(16);
    expect(
      live.sqlite.query("SELECT count(*) AS n FROM outbox_jobs WHERE state = 'sent'").get(),
    ).toEqual({ n: 16 });
  });

  test("the first WhatsApp group's starts go in the claim's own commit", async () => {
    const { twilio } = providers;
    // Every reading of this clock is a millisecond later: a start written in a commit of its
    // own, after the claim, would show a later time than the claim's.
    let now = Date.UTC(2026, 4, 4, 12);
    const { worker } = seeded(
      Array.from({ length: 3 }, (_, i) => whatsapp(i)),
      { now: () => (now += 1) },
    );
    twilio.failNext("slow", 3);

    const run = worker.runOnce();
    await until(() => twilio.handling === 3, "three messages at Twilio at once");
    const crashed = open(copyWithWal(join(dir, "live.db"), join(dir, "crashed.db")));
    const rows = crashed.sqlite
      .query("SELECT send_started_at AS at, lease_until AS lease FROM outbox_jobs")
      .all() as { at: number; lease: number }[];
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row.at).toBe(row.lease - 120_000);

    expect(await run).toMatchObject({ claimed: 3, sent: 3 });
  });
});
