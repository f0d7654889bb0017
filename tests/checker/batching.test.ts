import { expect, test } from "bun:test";
import { nextBatchSize } from "../../src/checker/checker.ts";
import { Hour, setup } from "./fixtures.ts";

test("a batch is sized to take about 25 ms to write, within 25 to 400 receipts", () => {
  // Changes cost about a millisecond each: batches stay at 25.
  expect(nextBatchSize(25, 25)).toBe(25);
  expect(nextBatchSize(25, 100)).toBe(25);
  // Answers that repeat the last one cost a tenth of that.
  expect(nextBatchSize(25, 2.5)).toBe(250);
  expect(nextBatchSize(250, 20)).toBe(312);
  expect(nextBatchSize(400, 1)).toBe(400);
  expect(nextBatchSize(0, 0)).toBe(25);
  expect(nextBatchSize(10, 0)).toBe(400);
});

test("batches of any size write every receipt once", async () => {
  const fx = setup({ maxReceiptsPerTick: 1_000 });
  const receipts = Array.from({ length: 600 }, (_, i) => `EAC26900${String(i).padStart(5, "0")}`);
  const ids = receipts.map((receipt) => fx.addCase(receipt).id);
  for (const receipt of receipts) fx.uscis.found(receipt);
  expect(await fx.checker.tick()).toMatchObject({ checked: 600, changed: 600, failed: 0 });

  fx.clock.advance(7 * Hour);
  fx.uscis.found(receipts[599]!, { statusTitle: "Case Was Approved" });
  expect(await fx.checker.tick()).toMatchObject({ checked: 600, changed: 1, failed: 0 });
  expect(ids.map((id) => fx.updatesOf(id).length)).toEqual([...Array(599).fill(1), 2]);
  for (const receipt of receipts) expect(fx.receiptRow(receipt).lastCheckedAt).toBe(fx.clock.now());
});

test("a receipt failing mid-batch takes back its own writes only; the rest stays", async () => {
  const receipts = Array.from({ length: 5 }, (_, i) => `EAC26910${String(i).padStart(5, "0")}`);
  let failing = -1;
  const fx = setup({
    planNotifications: (tx, { case: kase }) => {
      // The status update is in by now: failing here leaves a row that must be taken back.
      if (kase.id === failing) throw new Error("the plan could not be written");
      return skipPlan(tx);
    },
  });
  const ids = receipts.map((receipt) => fx.addCase(receipt).id);
  failing = ids[2]!;
  for (const receipt of receipts) fx.uscis.found(receipt);

  expect(await fx.checker.tick()).toMatchObject({ checked: 5, changed: 4, failed: 1 });

  expect(ids.map((id) => fx.updatesOf(id).length)).toEqual([1, 1, 0, 1, 1]);
  expect(fx.caseRow(failing)).toMatchObject({ lastStatusUpdateId: null, observedDigest: null });
  expect(fx.receiptRow(receipts[2]!)).toMatchObject({ priority: true, lastCheckedAt: null });
  for (const receipt of [0, 1, 3, 4].map((i) => receipts[i]!)) {
    expect(fx.receiptRow(receipt).lastCheckedAt).toBe(fx.clock.now());
  }
  const errors = fx.log.lines.filter((line) => line.msg === "checker could not record");
  expect(errors.map((line) => line.receipt_number)).toEqual([receipts[2]]);

  // Once it can be written, it is, and nothing of the first try is left to double it.
  failing = -1;
  expect(await fx.checker.tick()).toMatchObject({ checked: 1, changed: 1, failed: 0 });
  expect(ids.map((id) => fx.updatesOf(id).length)).toEqual([1, 1, 1, 1, 1]);
});

function skipPlan(_tx: unknown) {
  return {
    notified: 0,
    emailNotifyStatus: "skipped",
    whatsappNotifyStatus: "skipped",
    emailNotifyLastError: "test",
    whatsappNotifyLastError: "test",
  } as const;
}
