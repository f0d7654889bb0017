import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Db } from "../db/connection.ts";
import type { Logger } from "../logger.ts";
import { createSpacingLimiter } from "../pacing/spacing-limiter.ts";
import { createQuota, type Quota } from "./quota.ts";
import { createSimulatorSource } from "./simulator.ts";
import { createTorchSource } from "./torch-client.ts";
import type { CaseStatusSource } from "./types.ts";

export interface SourceDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
}

export type SourceConfig = Pick<
  Config,
  | "uscisMode"
  | "uscisApiBaseUrl"
  | "uscisTokenUrl"
  | "uscisClientId"
  | "uscisClientSecret"
  | "uscisRatePerSecond"
  | "uscisDailyQuota"
  | "checkIntervalMinutes"
>;

/**
 * Simulator calls counted per write to the quota; see QuotaOptions.reserveBlock. A write is a
 * commit of a millisecond or more while the checker's own transaction waits, and a simulated
 * call costs some 50 us, so blocks of 100 still added a tenth; a crash forfeiting 1,000
 * simulated calls costs nothing real.
 */
export const SimulatorQuotaBlock = 1_000;

/** The USCIS source the configuration asks for, with its daily quota. */
export function createSource(
  config: SourceConfig,
  deps: SourceDeps,
): { source: CaseStatusSource; quota: Quota } {
  const simulated = config.uscisMode === "simulator";
  const quota = createQuota({
    db: deps.db,
    source: simulated ? "simulator" : "torch",
    dailyLimit: config.uscisDailyQuota,
    clock: deps.clock,
    // The simulator answers in microseconds, so a commit per call would be most of a check's
    // cost; Torch's calls are paced far apart and each is counted before it leaves.
    reserveBlock: simulated ? SimulatorQuotaBlock : 1,
  });

  if (config.uscisMode === "simulator") {
    const simulator = createSimulatorSource({
      clock: deps.clock,
      checkIntervalMinutes: config.checkIntervalMinutes,
    });
    // Counted like Torch, so a simulator run shows the same quota behaviour as a real one.
    const source: CaseStatusSource = {
      name: "simulator",
      async fetch(receiptNumber) {
        if (!quota.tryConsume()) return { kind: "rate_limited", reason: "daily quota reached" };
        return simulator.fetch(receiptNumber);
      },
    };
    return { source, quota };
  }

  // Spacing is about real time between requests on the wire, so the limiter keeps the system
  // clock even when the service runs on a test clock.
  const limiter = createSpacingLimiter({ perSecond: config.uscisRatePerSecond });
  const source = createTorchSource({
    apiBaseUrl: config.uscisApiBaseUrl,
    tokenUrl: config.uscisTokenUrl,
    clientId: config.uscisClientId,
    clientSecret: config.uscisClientSecret,
    limiter,
    quota,
    clock: deps.clock,
    logger: deps.logger,
  });
  return { source, quota };
}
