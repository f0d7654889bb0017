/** What the background parts last reported, for /health and /metrics to read. */
export interface LastTick {
  at: number;
  checked: number;
  failed: number;
  rateLimited: boolean;
}

/** The checker thread, when `serve` runs one (checker-host.ts keeps this current). */
export interface CheckerThreadState {
  state: "starting" | "running" | "restarting" | "stopped";
  /** New threads started after one ended on an error. */
  restarts: number;
  lastFailureAt: number | null;
}

export interface ServiceStatus {
  startedAt: number;
  /** The last checker tick of any kind: whether the scheduler is alive. */
  lastTick: LastTick | null;
  /** The last tick that asked USCIS anything: what USCIS is doing now. */
  lastUscisTick: LastTick | null;
  /** Null when the checker runs on the main thread (tests, a `:memory:` database). */
  checkerThread: CheckerThreadState | null;
}

export const newServiceStatus = (now: number): ServiceStatus => ({
  startedAt: now,
  lastTick: null,
  lastUscisTick: null,
  checkerThread: null,
});

/**
 * What one checker tick reports to /health. During an outage the failed receipts wait out
 * their backoff, so most ticks find nothing due and ask USCIS nothing: such a tick must not
 * replace the last answer USCIS gave, or /health would read "ok" between the retries.
 */
export function recordTick(status: ServiceStatus, tick: LastTick): void {
  status.lastTick = tick;
  if (tick.checked > 0 || tick.rateLimited) status.lastUscisTick = tick;
}
