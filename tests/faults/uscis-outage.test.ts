/**
 * USCIS answering 429 and 503 for hours of simulated time, in-process on a manual clock against
 * the Torch fake over real HTTP. What must hold (DESIGN.md, "The checker"; API.md, /health):
 * the daily quota is never exceeded, an outage is never read as a status change, nobody is told
 * anything, /health says "degraded" for as long as USCIS is failing and "ok" once it answers.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { manualClock } from "../../src/clock.ts";
import { startTorchFake, type TorchFake, type TorchFakeMode } from "../fakes/torch-fake.ts";
import {
  type FaultService,
  faultService,
  Hour,
  Minute,
  type Partner,
  receiptNumbers,
  reviewedCase,
  TorchClientId,
  TorchClientSecret,
  torchEnv,
} from "./harness.ts";

/** Below what the outage's calls come to on its first day, so the limit is reached. */
const DailyQuota = 60;
/** 17:30 UTC, so the outage runs into the next UTC day and its fresh quota. */
const Start = Date.UTC(2026, 4, 4, 17, 30, 0);
const Receipts = receiptNumbers(8);

interface Sample {
  at: number;
  phase: string;
  httpStatus: number;
  status: string;
  uscis: string;
}

let fake: TorchFake;
let svc: FaultService;
let partner: Partner;
const samples: Sample[] = [];

beforeAll(async () => {
  const clock = manualClock(Start);
  fake = startTorchFake({ clientId: TorchClientId, clientSecret: TorchClientSecret, clock });
  for (const receipt of Receipts) fake.setCase(receipt, reviewedCase(receipt));
  svc = faultService({
    clock,
    env: {
      ...torchEnv(fake),
      // Spacing is real time on the wire: a high rate keeps hours of ticks to seconds.
      USCIS_RATE_PER_SECOND: "1000",
      USCIS_DAILY_QUOTA: String(DailyQuota),
      CHECK_INTERVAL_MINUTES: "60",
    },
  });
  partner = svc.createPartner();
  // Six users on eight receipts, ten cases: users 0 and 1 also watch receipts 6 and 7, users
  // 2 and 3 also watch the receipts of users 0 and 1 (one USCIS call serves both cases).
  for (let i = 0; i < 6; i += 1) {
    const user = await svc.call("POST", "/v1/users", partner, { email: `u${i}@faults.example` });
    expect(user.status).toBe(201);
    svc.sqlite.run("UPDATE users SET email_verified_at = ? WHERE id = ?", [Start, user.json.id]);
    const watched = [Receipts[i]!];
    if (i < 2) watched.push(Receipts[6 + i]!);
    else if (i < 4) watched.push(Receipts[i - 2]!);
    for (const receipt of watched) {
      const kase = await svc.call("POST", `/v1/users/${user.json.id}/cases`, partner, {
        receipt_number: receipt,
      });
      expect(kase.status).toBe(201);
    }
  }
});

afterAll(async () => {
  await fake?.stop();
  svc?.database.close();
});

/** One simulated minute: the cron tick, the senders until idle, then a look at /health. */
async function minute(phase: string) {
  svc.clock.advance(Minute);
  await svc.tick();
  while ((await svc.outbox.runOnce()).claimed > 0) {}
  const health = await svc.call("GET", "/health");
  samples.push({
    at: svc.clock.now(),
    phase,
    httpStatus: health.status,
    status: health.json.status,
    uscis: health.json.uscis.state,
  });
}

async function live(phase: string, hours: number, modeAt?: (minute: number) => TorchFakeMode) {
  for (let i = 0; i < hours * 60; i += 1) {
    if (modeAt) fake.setMode(modeAt(i));
    await minute(phase);
  }
}

const updatesPerCase = () =>
  svc.sqlite.query("SELECT case_id, count(*) AS n FROM status_updates GROUP BY case_id").all();
const outboxJobs = () => svc.count("SELECT count(*) AS n FROM outbox_jobs");
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

describe("USCIS answers 429 and 503 for hours", () => {
  test("quota kept, no false change, nobody told, /health degrades and recovers", async () => {
    await live("healthy", 0.5);
    const cases = svc.count("SELECT count(*) AS n FROM cases");
    expect(cases).toBe(10);
    const baseline = updatesPerCase();
    expect(baseline).toHaveLength(cases);
    const jobsBefore = outboxJobs();
    expect(samples.at(-1)).toMatchObject({ status: "ok", uscis: "ok" });
    const outageStart = svc.clock.now();

    await live("429", 2, () => "spike_arrest");
    await live("503", 2, () => "service_unavailable");
    // The live sandbox's closed-hours 503 (leading whitespace, nested error) between 429s.
    await live("mixed", 2, (i) => (i % 2 === 0 ? "spike_arrest" : "sandbox_closed"));
    const outageEnd = svc.clock.now();

    // Nothing written for anyone while USCIS failed; the cases only say the check is failing.
    expect(updatesPerCase()).toEqual(baseline);
    expect(outboxJobs()).toBe(jobsBefore);
    const errors = svc.sqlite.query("SELECT DISTINCT check_error AS e FROM cases").all();
    expect(errors).toEqual([{ e: "upstream_unavailable" }]);

    // From the first failed call to the end of the outage, every look at /health says so,
    // with 200: the service itself can still serve.
    const during = samples.filter((s) => s.at > outageStart && s.at <= outageEnd);
    expect(during.every((s) => s.httpStatus === 200)).toBe(true);
    const firstDegraded = during.findIndex((s) => s.status === "degraded");
    expect(firstDegraded).toBeGreaterThanOrEqual(0);
    expect(during[firstDegraded]!.at - outageStart).toBeLessThan(Hour);
    const claimedOk = during.slice(firstDegraded).filter((s) => s.status !== "degraded");
    expect(claimedOk.map((s) => `${new Date(s.at).toISOString()} ${s.phase} ${s.uscis}`)).toEqual(
      [],
    );
    const states = new Set(during.map((s) => s.uscis));
    for (const state of ["rate_limited", "failing", "quota_exhausted"]) {
      expect(states).toContain(state);
    }

    fake.clearModes();
    await live("recovered", 3);

    // Each receipt is looked at again within its interval and the state clears.
    const after = samples.filter((s) => s.at > outageEnd);
    const recoveredAt = after.find((s) => s.status === "ok")?.at;
    expect(recoveredAt).toBeDefined();
    expect(recoveredAt! - outageEnd).toBeLessThanOrEqual(Hour + 10 * Minute);
    expect(after.filter((s) => s.at >= recoveredAt!).every((s) => s.status === "ok")).toBe(true);
    expect(svc.count("SELECT count(*) AS n FROM cases WHERE check_error IS NOT NULL")).toBe(0);
    expect(updatesPerCase()).toEqual(baseline);
    expect(outboxJobs()).toBe(jobsBefore);

    // The quota, per UTC day, by our own count and by what reached USCIS.
    const counted = svc.sqlite
      .query("SELECT day, count FROM usage_counters WHERE source = 'torch' ORDER BY day")
      .all() as { day: string; count: number }[];
    const calls = fake.requests.log.filter((r) => r.kind === "case_status");
    const reached = new Map<string, number>();
    for (const call of calls) reached.set(day(call.at), (reached.get(day(call.at)) ?? 0) + 1);
    expect(counted.map((row) => row.day)).toEqual([...reached.keys()]);
    for (const row of counted) {
      expect(row.count).toBeLessThanOrEqual(DailyQuota);
      expect(reached.get(row.day)).toBe(row.count);
    }
    // The first day ran into the limit: the limit, not luck, is what kept the count down.
    expect(counted[0]).toEqual({ day: day(Start), count: DailyQuota });
    // Four hours with 429s cost a handful of calls, not one a minute: the client cools down.
    expect(calls.filter((call) => call.status === 429).length).toBeLessThanOrEqual(12);

    console.info(
      JSON.stringify({
        fault: "uscis-outage",
        quota: counted,
        calls: { total: calls.length, by_status: countBy(calls.map((c) => c.status)) },
        health: countBy(during.map((s) => `${s.phase}:${s.uscis}`)),
        recovered_after_minutes: (recoveredAt! - outageEnd) / Minute,
      }),
    );
  }, 60_000);
});

function countBy(values: (string | number)[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

describe("an outage nobody waits on any more", () => {
  test("/health stops reporting it once no receipt is left to ask about", async () => {
    const clock = manualClock(Start);
    const lone = startTorchFake({
      clientId: TorchClientId,
      clientSecret: TorchClientSecret,
      clock,
    });
    const [receipt] = receiptNumbers(1, 900) as [string];
    lone.setCase(receipt, reviewedCase(receipt));
    const one = faultService({
      clock,
      env: { ...torchEnv(lone), USCIS_RATE_PER_SECOND: "1000", CHECK_INTERVAL_MINUTES: "60" },
    });
    try {
      const owner = one.createPartner();
      const user = await one.call("POST", "/v1/users", owner, { email: "lone@faults.example" });
      const kase = await one.call("POST", `/v1/users/${user.json.id}/cases`, owner, {
        receipt_number: receipt,
      });
      lone.setMode("service_unavailable");
      await one.tick();
      const state = async () => (await one.call("GET", "/health")).json.uscis.state;
      expect(await state()).toBe("failing");

      // The case is let go: no tick asks USCIS anything from now on.
      const removed = await one.call(
        "DELETE",
        `/v1/users/${user.json.id}/cases/${kase.json.case.id}`,
        owner,
      );
      expect(removed.status).toBeLessThan(300);
      for (let minute = 0; minute < 3 * 60; minute += 1) {
        one.clock.advance(Minute);
        await one.tick();
      }
      expect(lone.requests.caseStatus).toBe(1);
      expect(await state()).toBe("ok");
    } finally {
      await lone.stop();
      one.database.close();
    }
  });
});
