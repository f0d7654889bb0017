import type { Config } from "../config.ts";
import type { SourceResult } from "../uscis/types.ts";
import type { TickSummary } from "./checker.ts";

/**
 * What the main thread and the checker thread say to each other. Only plain data crosses: the
 * thread opens its own connection and builds its own source from the configuration.
 */
export interface StartThread {
  type: "start";
  config: Config;
  /** Two numbers the thread keeps current for the main thread; see QuotaShare. */
  quotaShare: SharedArrayBuffer;
  /** Added to the thread's nice value (Linux: nice is per thread); 0 leaves it alone. */
  niceness: number;
}

export type ToThread =
  | StartThread
  /** `maxReceipts` replaces the schedule's budget for this tick (the benchmark's lifted rate). */
  | { type: "tick"; id: number; maxReceipts?: number }
  /** A live look-up (POST /v1/check) through the thread's source, limiter and quota. */
  | { type: "fetch"; id: number; receiptNumber: string }
  | { type: "stop" };

export type FromThread =
  | { type: "ready" }
  | { type: "ticked"; id: number; summary: TickSummary }
  | { type: "fetched"; id: number; result: SourceResult }
  | { type: "stopped" }
  /** Sent just before the thread ends itself on an error nothing else caught. */
  | { type: "failed"; error: { name: string; message: string; stack?: string } };

/**
 * The thread's quota holder reserves calls in blocks (the simulator's 1,000): counted in the
 * database at once, handed out from memory. The main thread reads the count on its own
 * connection, so the thread publishes how much of today's block is still unspent, and the day
 * it was read on, in a shared buffer: no message, no wait, and /health stays exact.
 */
export const QuotaShareBytes = 2 * Float64Array.BYTES_PER_ELEMENT;
const DayMs = 86_400_000;

export function publishUnspent(share: Float64Array, now: number, unspent: number): void {
  share[0] = Math.floor(now / DayMs);
  share[1] = unspent;
}

export function readUnspent(share: Float64Array, now: number): number {
  return share[0] === Math.floor(now / DayMs) ? (share[1] ?? 0) : 0;
}
