import { describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { receiptSpread } from "../../src/checker/cadence.ts";
import {
  dueOfPriorityQuery,
  dueReceipts,
  watchReceipt,
} from "../../src/checker/receipts.queries.ts";
import { cases, users } from "../../src/db/schema.ts";
import { checkerLag } from "../../src/ops/checker-lag.queries.ts";
import { Hour, Minute, setup } from "./fixtures.ts";

const A = "EAC9999103403";
const B = "LIN9999106498";
const C = "SRC9999102777";

describe("which receipts a tick takes", () => {
  test("receipts due at one instant come off receipts_due in order, with nothing sorted", () => {
    const fx = setup();
    const numbers = ["EAC2690000003", "EAC2690000001", "EAC2690000002"];
    for (const receipt of numbers) fx.addCase(receipt);
    for (const receipt of numbers) fx.setReceipt(receipt, { priority: false, nextCheckAt: 5 });

    expect(dueReceipts(fx.db, 10, 2)).toEqual(["EAC2690000001", "EAC2690000002"]);
    for (const priority of [true, false]) {
      const { sql, params } = dueOfPriorityQuery(fx.db, priority).toSQL();
      const plan = fx.sqlite
        .query(`EXPLAIN QUERY PLAN ${sql}`)
        // The placeholders (now, limit) stand for numbers; anything will do for a plan.
        .all(...params.map((param) => (typeof param === "string" ? param : 10)))
        .map((row) => (row as { detail: string }).detail);
      // A sort would take every receipt due at that instant, however few the tick wants.
      expect(plan.join("\n")).toMatch(/USING (COVERING )?INDEX receipts_due/);
      expect(plan.join("\n")).not.toContain("TEMP B-TREE");
    }
  });

  test("one USCIS call for a receipt watched by two users of two partners", async () => {
    const fx = setup();
    const first = fx.addCase(A);
    const second = fx.addCase(A);
    fx.uscis.found(A);

    const summary = await fx.checker.tick();

    expect(fx.uscis.calls).toEqual([A]);
    expect(summary).toMatchObject({ checked: 1, changed: 2 });
    expect(fx.updatesOf(first.id).map((row) => row.kind)).toEqual(["initial"]);
    expect(fx.updatesOf(second.id).map((row) => row.kind)).toEqual(["initial"]);
  });

  test("new cases come before receipts that are long overdue", async () => {
    const fx = setup({ maxReceiptsPerTick: 1 });
    fx.addCase(A);
    fx.uscis.found(A);
    fx.uscis.found(B);
    await fx.checker.tick();
    fx.clock.advance(10 * Hour);
    fx.addCase(B);

    await fx.checker.tick();
    await fx.checker.tick();

    expect(fx.uscis.calls).toEqual([A, B, A]);
  });

  test("the longest overdue come first, and no more than the tick's budget", async () => {
    const fx = setup({ maxReceiptsPerTick: 2 });
    for (const receipt of [A, B, C]) fx.addCase(receipt);
    const now = fx.clock.now();
    fx.setReceipt(A, { priority: false, nextCheckAt: now - 1 * Minute });
    fx.setReceipt(B, { priority: false, nextCheckAt: now - 30 * Minute });
    fx.setReceipt(C, { priority: false, nextCheckAt: now - 10 * Minute });

    const summary = await fx.checker.tick();

    expect(fx.uscis.calls).toEqual([B, C]);
    expect(summary.checked).toBe(2);
    expect(checkerLag(fx.db, fx.clock.now())).toEqual({ lagMs: 1 * Minute, dueReceipts: 1 });
  });

  test("what is left of the daily quota caps the tick too", async () => {
    let left = 2;
    const fx = setup({ quota: { remaining: () => left } });
    for (const receipt of [A, B, C]) fx.addCase(receipt);
    fx.uscis.answerWith(A, async () => {
      left -= 1;
      return { kind: "not_found" };
    });

    const summary = await fx.checker.tick();

    expect(fx.uscis.calls).toHaveLength(2);
    expect(summary.quotaLeft).toBe(1);
  });

  test("inactive cases, disabled users and disabled partners are never checked", async () => {
    const fx = setup();
    fx.addCase(A, { active: false });
    const disabledUser = fx.addUser({ status: "disabled" });
    fx.addCase(B, { userId: disabledUser.id });
    const disabledPartner = fx.addClient({ disabledAt: fx.clock.now() });
    fx.addCase(C, { userId: fx.addUser({ clientId: disabledPartner.id }).id });

    const summary = await fx.checker.tick();

    expect(fx.uscis.calls).toEqual([]);
    expect(summary.checked).toBe(0);
    expect(checkerLag(fx.db, fx.clock.now())).toEqual({ lagMs: 0, dueReceipts: 0 });
  });

  test("a shared receipt only writes to the cases still watched", async () => {
    const fx = setup();
    const watched = fx.addCase(A);
    const paused = fx.addCase(A, { active: false });
    const disabledUser = fx.addUser();
    const ofDisabled = fx.addCase(A, { userId: disabledUser.id });
    fx.db.update(users).set({ status: "disabled" }).where(eq(users.id, disabledUser.id)).run();
    fx.uscis.found(A);

    await fx.checker.tick();

    expect(fx.updatesOf(watched.id)).toHaveLength(1);
    expect(fx.updatesOf(paused.id)).toHaveLength(0);
    expect(fx.updatesOf(ofDisabled.id)).toHaveLength(0);
  });
});

describe("cadence", () => {
  test("a receipt is due again one interval later, not before", async () => {
    const fx = setup();
    fx.addCase(A);
    fx.uscis.found(A);
    await fx.checker.tick();

    fx.clock.advance(6 * Hour - 1);
    await fx.checker.tick();
    fx.clock.advance(1);
    await fx.checker.tick();

    expect(fx.receiptRow(A).nextCheckAt).toBe(fx.clock.now() + 6 * Hour);
    expect(fx.uscis.calls).toEqual([A, A]);
  });

  test("settled categories are checked four times less often", async () => {
    const fx = setup();
    fx.addCase(A);
    fx.uscis.found(A, { statusTitle: "Card Was Delivered To Me By The Post Office" });

    await fx.checker.tick();

    expect(fx.receiptRow(A).nextCheckAt).toBe(fx.clock.now() + 24 * Hour);
  });

  test("jitter stays within 10% and is the same for a receipt every time", async () => {
    const schedules: number[] = [];
    for (const receipt of [A, B, C, A]) {
      const fx = setup({ jitterRatio: 0.1 });
      fx.addCase(receipt);
      fx.uscis.found(receipt);
      await fx.checker.tick();
      schedules.push(fx.receiptRow(receipt).nextCheckAt - fx.clock.now());
    }

    for (const delay of schedules) {
      expect(delay).toBeGreaterThanOrEqual(6 * Hour * 0.9);
      expect(delay).toBeLessThanOrEqual(6 * Hour * 1.1);
    }
    expect(schedules[3]).toBe(schedules[0]!);
    expect(new Set(schedules).size).toBe(3);
    expect(Math.abs(receiptSpread(A))).toBeLessThan(1);
  });
});

describe("watching a receipt", () => {
  test("a second case on a watched receipt gets its own initial row next tick", async () => {
    const fx = setup();
    const first = fx.addCase(A);
    fx.uscis.found(A);
    await fx.checker.tick();
    fx.clock.advance(1 * Minute);

    const second = fx.addCase(A);
    const summary = await fx.checker.tick();

    expect(fx.uscis.calls).toEqual([A, A]);
    expect(summary.changed).toBe(1);
    expect(fx.updatesOf(first.id)).toHaveLength(1);
    expect(fx.updatesOf(second.id).map((row) => row.kind)).toEqual(["initial"]);
  });

  test("a re-activated case is checked at the next tick", async () => {
    const fx = setup();
    const kase = fx.addCase(A);
    fx.uscis.found(A);
    await fx.checker.tick();
    fx.db.update(cases).set({ active: false }).where(eq(cases.id, kase.id)).run();
    fx.clock.advance(1 * Hour);

    fx.db.transaction((tx) => {
      tx.update(cases).set({ active: true }).where(eq(cases.id, kase.id)).run();
      watchReceipt(tx, A, fx.clock.now());
    });
    fx.uscis.found(A, { statusTitle: "Case Was Approved" });
    await fx.checker.tick();

    expect(fx.updatesOf(kase.id).map((row) => row.kind)).toEqual(["initial", "status_changed"]);
  });

  test("watching keeps what was already known about the receipt", () => {
    const fx = setup();
    fx.addCase(A);
    fx.setReceipt(A, { formType: "I-130", priority: false, lastCheckedAt: 5 });

    fx.addCase(A);

    expect(fx.receiptRow(A)).toMatchObject({
      formType: "I-130",
      lastCheckedAt: 5,
      priority: true,
      nextCheckAt: fx.clock.now(),
    });
  });

  test("checker lag measures the most overdue watched receipt", () => {
    const fx = setup();
    expect(checkerLag(fx.db, fx.clock.now())).toEqual({ lagMs: 0, dueReceipts: 0 });
    fx.addCase(A);
    fx.addCase(B);
    fx.setReceipt(B, { nextCheckAt: fx.clock.now() + Hour });
    fx.clock.advance(3 * Minute);

    expect(checkerLag(fx.db, fx.clock.now())).toEqual({ lagMs: 3 * Minute, dueReceipts: 1 });
  });
});
