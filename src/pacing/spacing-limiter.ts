import { type Clock, systemClock } from "../clock.ts";

/**
 * Evenly spaced requests, never bursts. USCIS sits behind Apigee's SpikeArrest, which smooths
 * a rate rather than counting per second: at 5 a second it refuses any request that comes less
 * than 200 ms after the previous one, even if only two were sent that second. Resend's limit
 * is kindest to the same pacing.
 */

export interface RateLimiter {
  /** Resolves when the caller may send; each caller gets its own slot. */
  acquire(): Promise<void>;
}

export interface SpacingLimiterOptions {
  perSecond: number;
  clock?: Clock;
  sleep?: (ms: number) => Promise<void>;
}

// Timers may fire a little early; a few re-checks cover that without spinning forever on a
// sleep that does not move the clock.
const MaxWakeUps = 3;

export function createSpacingLimiter(options: SpacingLimiterOptions): RateLimiter {
  if (!(options.perSecond > 0)) throw new RangeError("perSecond must be above zero");
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? ((ms: number) => Bun.sleep(ms));
  const intervalMs = 1000 / options.perSecond;
  let lastGrantAt = Number.NEGATIVE_INFINITY;
  let queue: Promise<void> = Promise.resolve();

  async function waitForTurn() {
    for (let wakeUps = 0; wakeUps < MaxWakeUps; wakeUps++) {
      const wait = lastGrantAt + intervalMs - clock.now();
      if (wait <= 0) break;
      await sleep(Math.ceil(wait));
    }
    lastGrantAt = clock.now();
  }

  return {
    acquire() {
      // Callers wait in line, and each measures from the moment the previous one was actually
      // let through. Slots booked in advance would not do: after a stalled event loop, every
      // overdue timer fires at once and the requests would leave together.
      const turn = queue.then(waitForTurn);
      queue = turn.catch(() => undefined);
      return turn;
    },
  };
}
