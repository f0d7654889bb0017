import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { manualClock } from "../../src/clock.ts";
import { type DatabaseHandle, migrate, openDatabase } from "../../src/db/connection.ts";
import { createQuota } from "../../src/uscis/quota.ts";

const folders: string[] = [];
const handles: DatabaseHandle[] = [];

function open(path = ":memory:") {
  const handle = openDatabase(path);
  migrate(handle);
  handles.push(handle);
  return handle;
}

function tempDatabasePath() {
  const folder = mkdtempSync(join(tmpdir(), "immigraflow-quota-"));
  folders.push(folder);
  return join(folder, "quota.db");
}

afterEach(() => {
  for (const handle of handles.splice(0)) handle.close();
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

describe("createQuota", () => {
  test("counts up to the limit and then refuses, counting nothing more", () => {
    const { db, sqlite } = open();
    const quota = createQuota({ db, source: "torch", dailyLimit: 3, clock: manualClock() });
    expect([quota.tryConsume(), quota.tryConsume(), quota.tryConsume()]).toEqual([
      true,
      true,
      true,
    ]);
    expect(quota.tryConsume()).toBe(false);
    expect(quota.tryConsume()).toBe(false);
    expect(quota.used()).toBe(3);
    expect(quota.remaining()).toBe(0);
    const row = sqlite.query("SELECT source, day, count FROM usage_counters").all();
    expect(row).toEqual([{ source: "torch", day: "2026-05-04", count: 3 }]);
  });

  test("unspent is today's reserved block not handed out; another holder reads around it", () => {
    const { db } = open();
    const clock = manualClock(Date.UTC(2026, 4, 4, 12, 0, 0));
    const quota = createQuota({
      db,
      source: "simulator",
      dailyLimit: 100,
      clock,
      reserveBlock: 10,
    });
    const reader = createQuota({ db, source: "simulator", dailyLimit: 100, clock });
    expect(quota.unspent()).toBe(0);
    quota.tryConsume();
    quota.tryConsume();
    expect(quota.unspent()).toBe(8);
    // The reader sees the whole block counted; less what is unspent, it is the holder's use.
    expect(reader.used() - quota.unspent()).toBe(quota.used());
    clock.advance(12 * 60 * 60 * 1000);
    expect(quota.unspent()).toBe(0);
  });

  test("a new UTC day starts from zero", () => {
    const { db } = open();
    const clock = manualClock(Date.UTC(2026, 4, 4, 23, 59, 59));
    const quota = createQuota({ db, source: "torch", dailyLimit: 1, clock });
    expect(quota.tryConsume()).toBe(true);
    expect(quota.tryConsume()).toBe(false);
    clock.advance(1000);
    expect(quota.used()).toBe(0);
    expect(quota.remaining()).toBe(1);
    expect(quota.tryConsume()).toBe(true);
  });

  test("sources are counted apart", () => {
    const { db } = open();
    const clock = manualClock();
    const torch = createQuota({ db, source: "torch", dailyLimit: 1, clock });
    const simulator = createQuota({ db, source: "simulator", dailyLimit: 1, clock });
    expect(torch.tryConsume()).toBe(true);
    expect(simulator.tryConsume()).toBe(true);
    expect(torch.tryConsume()).toBe(false);
  });

  test("a limit below one allows nothing", () => {
    const { db } = open();
    const quota = createQuota({ db, source: "torch", dailyLimit: 0, clock: manualClock() });
    expect(quota.tryConsume()).toBe(false);
    expect(quota.used()).toBe(0);
  });

  test("survives a restart: the count lives in the database file", () => {
    const path = tempDatabasePath();
    const clock = manualClock();
    const first = open(path);
    const before = createQuota({ db: first.db, source: "torch", dailyLimit: 5, clock });
    for (let i = 0; i < 4; i++) expect(before.tryConsume()).toBe(true);
    first.close();
    handles.splice(handles.indexOf(first), 1);

    const second = open(path);
    const after = createQuota({ db: second.db, source: "torch", dailyLimit: 5, clock });
    expect(after.used()).toBe(4);
    expect(after.tryConsume()).toBe(true);
    expect(after.tryConsume()).toBe(false);
  });

  test("two connections to one file cannot overshoot together", () => {
    const path = tempDatabasePath();
    const clock = manualClock();
    const a = createQuota({ db: open(path).db, source: "torch", dailyLimit: 10, clock });
    const b = createQuota({ db: open(path).db, source: "torch", dailyLimit: 10, clock });
    let granted = 0;
    for (let i = 0; i < 15; i++) {
      if (a.tryConsume()) granted++;
      if (b.tryConsume()) granted++;
    }
    expect(granted).toBe(10);
    expect(a.used()).toBe(10);
  });
});

describe("createQuota with reserveBlock", () => {
  const counted = (handle: DatabaseHandle, day = "2026-05-04") =>
    (
      handle.sqlite
        .query("SELECT count FROM usage_counters WHERE source = 'simulator' AND day = ?")
        .get(day) as { count: number } | null
    )?.count ?? 0;

  test("one write counts a whole block, which is then handed out from memory", () => {
    const handle = open();
    const quota = createQuota({
      db: handle.db,
      source: "simulator",
      dailyLimit: 100,
      clock: manualClock(),
      reserveBlock: 10,
    });
    expect(quota.tryConsume()).toBe(true);
    expect(counted(handle)).toBe(10);
    expect(quota.used()).toBe(1);
    for (let i = 0; i < 9; i++) expect(quota.tryConsume()).toBe(true);
    expect(counted(handle)).toBe(10);
    expect(quota.used()).toBe(10);
    expect(quota.tryConsume()).toBe(true);
    expect(counted(handle)).toBe(20);
    expect(quota.remaining()).toBe(89);
  });

  test("a clean stop gives back what is left of the block; the next start counts on", () => {
    const path = tempDatabasePath();
    const clock = manualClock();
    const options = { source: "simulator", dailyLimit: 100, clock, reserveBlock: 10 };
    const first = open(path);
    const quota = createQuota({ db: first.db, ...options });
    for (let i = 0; i < 3; i++) expect(quota.tryConsume()).toBe(true);
    expect(counted(first)).toBe(10);
    quota.release();
    expect(counted(first)).toBe(3);
    quota.release();
    expect(counted(first)).toBe(3);

    const restarted = createQuota({ db: open(path).db, ...options });
    expect(restarted.used()).toBe(3);
    expect(restarted.tryConsume()).toBe(true);
    expect(counted(first)).toBe(13);
  });

  test("near the limit it takes one call at a time, so every last call can be used", () => {
    const handle = open();
    const quota = createQuota({
      db: handle.db,
      source: "simulator",
      dailyLimit: 25,
      clock: manualClock(),
      reserveBlock: 10,
    });
    let granted = 0;
    for (let i = 0; i < 40; i++) if (quota.tryConsume()) granted++;
    expect(granted).toBe(25);
    expect(counted(handle)).toBe(25);
    expect(quota.remaining()).toBe(0);
  });

  test("what is left of yesterday's block is not spent today", () => {
    const handle = open();
    const clock = manualClock(Date.UTC(2026, 4, 4, 23, 59, 59));
    const quota = createQuota({
      db: handle.db,
      source: "simulator",
      dailyLimit: 12,
      clock,
      reserveBlock: 10,
    });
    expect(quota.tryConsume()).toBe(true);
    expect(counted(handle, "2026-05-04")).toBe(10);

    clock.advance(1000);
    // A new day: nothing used yet, and the nine calls reserved yesterday do not count for it.
    expect(quota.used()).toBe(0);
    for (let i = 0; i < 12; i++) expect(quota.tryConsume()).toBe(true);
    expect(quota.tryConsume()).toBe(false);
    expect(counted(handle, "2026-05-05")).toBe(12);
    expect(counted(handle, "2026-05-04")).toBe(10);
  });

  test("a crash forfeits the rest of a block and never hands out more than the limit", () => {
    const path = tempDatabasePath();
    const clock = manualClock();
    const limit = 25;
    let granted = 0;
    // A crash loop: each run takes what it can, uses a few calls and dies without a goodbye.
    for (let run = 0; run < 6; run++) {
      const handle = open(path);
      const quota = createQuota({
        db: handle.db,
        source: "simulator",
        dailyLimit: limit,
        clock,
        reserveBlock: 10,
      });
      for (let i = 0; i < 3; i++) if (quota.tryConsume()) granted++;
      expect(counted(handle)).toBeLessThanOrEqual(limit);
      handle.close();
      handles.splice(handles.indexOf(handle), 1);
    }

    const last = open(path);
    const quota = createQuota({
      db: last.db,
      source: "simulator",
      dailyLimit: limit,
      clock,
      reserveBlock: 10,
    });
    // Reserved calls that died with their process count as used: fewer calls, never more.
    expect(quota.used()).toBe(counted(last));
    while (quota.tryConsume()) granted++;
    expect(counted(last)).toBe(limit);
    expect(granted).toBeLessThanOrEqual(limit);
    // Runs 1 and 2 take blocks of ten; the rest go call by call and lose nothing.
    expect(granted).toBe(limit - 2 * 7);
  });
});
