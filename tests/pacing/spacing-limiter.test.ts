import { describe, expect, test } from "bun:test";
import { manualClock } from "../../src/clock.ts";
import { createSpacingLimiter } from "../../src/pacing/spacing-limiter.ts";

/** A sleep that moves the manual clock instead of waiting, and remembers what was asked. */
function fakeTime() {
  const clock = manualClock(1_000_000);
  const sleeps: number[] = [];
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    await Promise.resolve();
    clock.advance(ms);
  };
  return { clock, sleep, sleeps };
}

/**
 * Sleepers wake in order of their deadlines as the test moves the clock to each in turn; a
 * test can also stall the clock past several deadlines, as a blocked event loop does.
 */
function fakeTimers() {
  const clock = manualClock(1_000_000);
  const sleepers: { wakeAt: number; wake: () => void }[] = [];
  const sleep = (ms: number) =>
    new Promise<void>((wake) => sleepers.push({ wakeAt: clock.now() + ms, wake }));
  async function runUntilSettled(work: Promise<unknown>) {
    let settled = false;
    work.finally(() => {
      settled = true;
    });
    while (!settled) {
      await new Promise((resolve) => setImmediate(resolve));
      sleepers.sort((a, b) => a.wakeAt - b.wakeAt);
      const next = sleepers.shift();
      if (!next) continue;
      clock.set(Math.max(clock.now(), next.wakeAt));
      next.wake();
    }
    await work;
  }
  async function stall(ms: number) {
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(ms);
  }
  return { clock, sleep, runUntilSettled, stall };
}

describe("createSpacingLimiter", () => {
  test("the first request goes at once", async () => {
    const time = fakeTime();
    const limiter = createSpacingLimiter({ perSecond: 5, ...time });
    await limiter.acquire();
    expect(time.sleeps).toEqual([]);
  });

  test("5 a second means one every 200 ms, never closer", async () => {
    const time = fakeTime();
    const limiter = createSpacingLimiter({ perSecond: 5, ...time });
    const sentAt: number[] = [];
    for (let i = 0; i < 6; i++) {
      await limiter.acquire();
      sentAt.push(time.clock.now());
    }
    const gaps = sentAt.slice(1).map((at, i) => at - (sentAt[i] ?? 0));
    expect(gaps).toEqual([200, 200, 200, 200, 200]);
  });

  test("concurrent callers get successive slots instead of one burst", async () => {
    const timers = fakeTimers();
    const limiter = createSpacingLimiter({ perSecond: 10, ...timers });
    const start = timers.clock.now();
    const sentAt: number[] = [];
    const callers = Promise.all(
      Array.from({ length: 5 }, async () => {
        await limiter.acquire();
        sentAt.push(timers.clock.now() - start);
      }),
    );
    await timers.runUntilSettled(callers);
    expect(sentAt).toEqual([0, 100, 200, 300, 400]);
  });

  test("a stalled event loop does not release the overdue callers together", async () => {
    const timers = fakeTimers();
    const limiter = createSpacingLimiter({ perSecond: 10, ...timers });
    const start = timers.clock.now();
    const sentAt: number[] = [];
    const callers = Promise.all(
      Array.from({ length: 4 }, async () => {
        await limiter.acquire();
        sentAt.push(timers.clock.now() - start);
      }),
    );
    await timers.stall(1000);
    await timers.runUntilSettled(callers);
    expect(sentAt[0]).toBe(0);
    for (let i = 1; i < sentAt.length; i++) {
      expect((sentAt[i] ?? 0) - (sentAt[i - 1] ?? 0)).toBeGreaterThanOrEqual(100);
    }
  });

  test("idle time is not banked: after a pause the spacing still holds", async () => {
    const time = fakeTime();
    const limiter = createSpacingLimiter({ perSecond: 5, ...time });
    await limiter.acquire();
    time.clock.advance(10_000);
    await limiter.acquire();
    const before = time.clock.now();
    await limiter.acquire();
    expect(time.clock.now() - before).toBe(200);
  });

  test("waits only for the rest of the interval", async () => {
    const time = fakeTime();
    const limiter = createSpacingLimiter({ perSecond: 5, ...time });
    await limiter.acquire();
    time.clock.advance(150);
    await limiter.acquire();
    expect(time.sleeps).toEqual([50]);
  });

  test("a timer that fires early is waited out", async () => {
    const clock = manualClock(0);
    const sleeps: number[] = [];
    const earlySleep = async (ms: number) => {
      sleeps.push(ms);
      clock.advance(sleeps.length === 1 ? ms - 3 : ms);
    };
    const limiter = createSpacingLimiter({ perSecond: 5, clock, sleep: earlySleep });
    await limiter.acquire();
    await limiter.acquire();
    expect(clock.now()).toBe(200);
    expect(sleeps).toEqual([200, 3]);
  });

  test("the real clock spaces real requests", async () => {
    const limiter = createSpacingLimiter({ perSecond: 100 });
    const sentAt: number[] = [];
    for (let i = 0; i < 3; i++) {
      await limiter.acquire();
      sentAt.push(performance.now());
    }
    expect((sentAt[2] ?? 0) - (sentAt[0] ?? 0)).toBeGreaterThanOrEqual(19);
  });

  test("refuses a rate that is not positive", () => {
    expect(() => createSpacingLimiter({ perSecond: 0 })).toThrow(RangeError);
    expect(() => createSpacingLimiter({ perSecond: Number.NaN })).toThrow(RangeError);
  });
});
