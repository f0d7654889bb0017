import { describe, expect, test } from "bun:test";
import type { CheckFailingEvent } from "../../src/checker/checker.ts";
import type { SourceResult } from "../../src/uscis/types.ts";
import { Hour, Minute, setup } from "./fixtures.ts";

const A = "EAC9999103403";
const B = "LIN9999106498";
const C = "SRC9999102777";

function tickLines(fx: ReturnType<typeof setup>) {
  return fx.log.lines.filter((line) => line.msg === "checker tick");
}

describe("USCIS does not know the receipt", () => {
  test("sets check_error, writes no status update and waits a regular interval", async () => {
    const fx = setup();
    const kase = fx.addCase(A);
    fx.uscis.answer(A, { kind: "not_found" });

    const summary = await fx.checker.tick();

    expect(summary).toMatchObject({ checked: 1, notFound: 1, changed: 0, failed: 0 });
    expect(fx.updatesOf(kase.id)).toHaveLength(0);
    expect(fx.caseRow(kase.id).checkError).toBe("not_found");
    expect(fx.receiptRow(A)).toMatchObject({
      priority: false,
      nextCheckAt: fx.clock.now() + 6 * Hour,
      consecutiveFailures: 0,
    });
  });

  test("after a found answer keeps the rows, and found again clears it", async () => {
    const fx = setup();
    const kase = fx.addCase(A);
    fx.uscis.found(A);
    await fx.checker.tick();

    fx.clock.advance(7 * Hour);
    fx.uscis.answer(A, { kind: "not_found" });
    await fx.checker.tick();
    expect(fx.caseRow(kase.id).checkError).toBe("not_found");

    fx.clock.advance(7 * Hour);
    fx.uscis.found(A);
    await fx.checker.tick();

    expect(fx.updatesOf(kase.id).map((row) => row.kind)).toEqual(["initial"]);
    expect(fx.caseRow(kase.id).checkError).toBeNull();
  });
});

test("a receipt USCIS calls malformed is logged, flagged and left alone for a day", async () => {
  const fx = setup();
  const kase = fx.addCase(A);
  fx.uscis.answer(A, { kind: "invalid_receipt", message: "not formatted correctly" });

  const summary = await fx.checker.tick();

  expect(summary).toMatchObject({ checked: 1, failed: 1, changed: 0 });
  expect(fx.caseRow(kase.id).checkError).toBe("invalid_receipt");
  expect(fx.updatesOf(kase.id)).toHaveLength(0);
  expect(fx.receiptRow(A).nextCheckAt).toBe(fx.clock.now() + 24 * Hour);
  const warning = fx.log.lines.find((line) => line.level === "warn");
  expect(warning).toMatchObject({ receipt_number: A, uscis_message: "not formatted correctly" });
});

test("a 429 stops the tick and leaves the rest due", async () => {
  const fx = setup();
  for (const receipt of [A, B, C]) fx.addCase(receipt);
  fx.uscis.found(A);
  fx.uscis.answer(B, { kind: "rate_limited", reason: "Spike Arrest Violation" });
  fx.uscis.found(C);
  const before = fx.receiptRow(B);

  const summary = await fx.checker.tick();

  expect(fx.uscis.calls).toEqual([A, B]);
  expect(summary).toMatchObject({ checked: 1, changed: 1, rateLimited: true });
  expect(fx.receiptRow(B)).toEqual(before);
  expect(fx.receiptRow(C).priority).toBe(true);
  expect(tickLines(fx)).toEqual([
    expect.objectContaining({ level: "warn", rate_limited: true, checked: 1 }),
  ]);

  fx.uscis.found(B);
  await fx.checker.tick();
  expect(fx.uscis.calls).toEqual([A, B, B, C]);
});

describe("USCIS unavailable", () => {
  test("backs off, flags once after five failures, never changes status", async () => {
    const events: CheckFailingEvent[] = [];
    const fx = setup({ onCheckFailing: (_tx, event) => events.push(event) });
    const kase = fx.addCase(A);
    fx.uscis.found(A);
    await fx.checker.tick();
    const observed = fx.receiptRow(A);

    fx.uscis.answer(A, { kind: "unavailable", reason: "503 Service Unavailable" });
    const delays: number[] = [];
    let flaggedAt: number | null = null;
    fx.clock.set(observed.nextCheckAt);
    for (let attempt = 1; attempt <= 7; attempt += 1) {
      const summary = await fx.checker.tick();
      expect(summary).toMatchObject({ checked: 1, failed: 1, changed: 0 });
      const receipt = fx.receiptRow(A);
      delays.push(receipt.nextCheckAt - fx.clock.now());
      if (attempt === 5) flaggedAt = fx.clock.now();
      expect(receipt.failingSince).toBe(attempt < 5 ? null : flaggedAt);
      fx.clock.set(receipt.nextCheckAt);
    }

    expect(delays).toEqual([5, 10, 20, 40, 80, 160, 320].map((minutes) => minutes * Minute));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      receiptNumber: A,
      consecutiveFailures: 5,
      failingSince: flaggedAt,
    });
    expect(events[0]!.watchers.map((watcher) => watcher.case.id)).toEqual([kase.id]);
    expect(fx.caseRow(kase.id).checkError).toBe("upstream_unavailable");
    expect(fx.receiptRow(A)).toMatchObject({
      consecutiveFailures: 7,
      lastError: "503 Service Unavailable",
      lastCheckedAt: observed.lastCheckedAt,
      observationDigest: observed.observationDigest,
    });
    expect(fx.updatesOf(kase.id)).toHaveLength(1);

    fx.uscis.found(A);
    await fx.checker.tick();
    expect(fx.updatesOf(kase.id)).toHaveLength(1);
    expect(fx.caseRow(kase.id).checkError).toBeNull();
    expect(fx.receiptRow(A)).toMatchObject({ consecutiveFailures: 0, failingSince: null });
  });

  test("the flag's event names every watching case with its own user and partner", async () => {
    const events: CheckFailingEvent[] = [];
    const fx = setup({ onCheckFailing: (_tx, event) => events.push(event) });
    const first = fx.addCase(A);
    const second = fx.addCase(A);
    fx.uscis.answer(A, { kind: "unavailable", reason: "timeout" });
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      await fx.checker.tick();
      fx.clock.set(fx.receiptRow(A).nextCheckAt);
    }

    expect(events).toHaveLength(1);
    const watchers = events[0]!.watchers;
    expect(watchers.map((watcher) => watcher.case)).toEqual([
      fx.caseRow(first.id),
      fx.caseRow(second.id),
    ]);
    for (const watcher of watchers) {
      expect(watcher.user.id).toBe(watcher.case.userId);
      expect(watcher.client.id).toBe(watcher.user.clientId);
    }
    expect(new Set(watchers.map((watcher) => watcher.client.id)).size).toBe(2);
  });

  test("the retry delay never exceeds the check interval", async () => {
    const fx = setup({ checkIntervalMinutes: 15 });
    fx.addCase(A);
    fx.uscis.answer(A, { kind: "unavailable", reason: "timeout" });
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      await fx.checker.tick();
      const next = fx.receiptRow(A).nextCheckAt;
      delays.push(next - fx.clock.now());
      fx.clock.set(next);
    }

    expect(delays).toEqual([5, 10, 15, 15].map((minutes) => minutes * Minute));
  });

  test("a source that throws or answers without a title counts as unavailable", async () => {
    const fx = setup();
    const first = fx.addCase(A);
    const second = fx.addCase(B);
    fx.uscis.answerWith(A, async () => {
      throw new Error("socket hang up");
    });
    fx.uscis.found(B, { statusTitle: " <br> " });

    const summary = await fx.checker.tick();

    expect(summary).toMatchObject({ checked: 2, failed: 2, changed: 0, notFound: 0 });
    expect(fx.receiptRow(A).lastError).toBe("source threw: socket hang up");
    expect(fx.caseRow(first.id).checkError).toBe("upstream_unavailable");
    expect(fx.updatesOf(second.id)).toHaveLength(0);
  });
});

describe("ticks", () => {
  test("a tick that starts while one is running is skipped", async () => {
    const fx = setup();
    fx.addCase(A);
    let release: (result: SourceResult) => void = () => {};
    fx.uscis.answerWith(A, () => new Promise((resolve) => (release = resolve)));

    const first = fx.checker.tick();
    expect(fx.checker.running).toBe(true);
    const overlapping = await fx.checker.tick();
    release({ kind: "not_found" });
    const finished = await first;

    expect(overlapping).toMatchObject({ skipped: true, checked: 0 });
    expect(finished).toMatchObject({ checked: 1, notFound: 1 });
    expect(fx.uscis.calls).toEqual([A]);
    expect(fx.checker.running).toBe(false);
    expect(tickLines(fx).map((line) => line.skipped)).toEqual([true, false]);
  });

  test("each tick logs one line with its facts", async () => {
    const fx = setup({ quota: { remaining: () => 998 } });
    fx.addCase(A);
    fx.addCase(B);
    fx.uscis.found(A);

    await fx.checker.tick();

    expect(tickLines(fx)).toEqual([
      expect.objectContaining({
        level: "info",
        checked: 2,
        changed: 1,
        not_found: 1,
        failed: 0,
        rate_limited: false,
        quota_left: 998,
        duration_ms: expect.any(Number),
      }),
    ]);
  });
});
