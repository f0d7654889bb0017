/** What the background parts last reported, for /health and /metrics to read. */
export interface LastTick {
  at: number;
  checked: number;
  failed: number;
  rateLimited: boolean;
}

export interface ServiceStatus {
  startedAt: number;
  lastTick: LastTick | null;
}

export const newServiceStatus = (now: number): ServiceStatus => ({
  startedAt: now,
  lastTick: null,
});
