const Minute = 60_000;
const Day = 24 * 60 * Minute;

/**
 * A settled case (card delivered, denied, withdrawn...) rarely moves again, yet a reopening or
 * an appeal does happen. Checking it four times less often (daily at the default 6 hours)
 * still catches that within a day and leaves the daily quota to the cases that are moving.
 */
export const SettledSlowdown = 4;

const FirstRetryMs = 5 * Minute;

/** How many failures in a row before a receipt is flagged as failing. */
export const FailingAfter = 5;

/**
 * A fixed offset in [-1, 1) per receipt (FNV-1a of its number). Receipts imported together
 * would otherwise come due in the same tick forever; a stable per-receipt offset spreads them
 * for good, and keeps schedules reproducible in tests.
 */
export function receiptSpread(receiptNumber: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < receiptNumber.length; i += 1) {
    hash ^= receiptNumber.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return (hash / 0x1_0000_0000) * 2 - 1;
}

export interface CadenceSettings {
  checkIntervalMinutes: number;
  /** Fraction of the interval by which a receipt's schedule is shifted, 0.1 for ±10%. */
  jitterRatio: number;
}

export function nextRegularCheck(
  settings: CadenceSettings,
  receiptNumber: string,
  now: number,
  settled: boolean,
): number {
  const interval = settings.checkIntervalMinutes * Minute * (settled ? SettledSlowdown : 1);
  const jitter = interval * settings.jitterRatio * receiptSpread(receiptNumber);
  return now + Math.round(interval + jitter);
}

/** 5, 10, 20... minutes after each failure in a row, never later than a regular check. */
export function nextRetryAfterFailure(
  settings: CadenceSettings,
  now: number,
  consecutiveFailures: number,
): number {
  const doubled = FirstRetryMs * 2 ** Math.max(0, consecutiveFailures - 1);
  return now + Math.min(doubled, settings.checkIntervalMinutes * Minute);
}

/**
 * USCIS called the receipt malformed: asking again will not change its mind until our
 * normalisation is fixed, so wait at least a day.
 */
export function nextCheckAfterInvalid(settings: CadenceSettings, now: number): number {
  return now + Math.max(Day, settings.checkIntervalMinutes * Minute * SettledSlowdown);
}
