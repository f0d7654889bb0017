import { Cron } from "croner";
import type { Config } from "../config.ts";
import { createNotificationPlanner } from "../notifications/planner.ts";
import { emitCheckFailing } from "../webhooks/webhook-events.ts";
import { type CheckerOptions, createChecker } from "./checker.ts";

/**
 * The tick budget follows from the schedule: a tick may use most of the time until the next
 * one at the USCIS rate, and leaves a margin so ticks do not run into each other.
 */
export function receiptsPerTick(pattern: string, ratePerSecond: number): number {
  const [first, second] = new Cron(pattern, { paused: true }).nextRuns(2);
  const seconds = first && second ? (second.getTime() - first.getTime()) / 1000 : 60;
  return Math.max(1, Math.floor(seconds * ratePerSecond * 0.8));
}

export type ServiceCheckerConfig = Pick<
  Config,
  "checkIntervalMinutes" | "checkerCron" | "uscisRatePerSecond"
>;

/**
 * The checker as `serve` runs it: paced by the schedule, telling people, emitting events. Kept
 * apart from serve.ts so the checker thread loads the checker without the HTTP app.
 */
export function createServiceChecker(
  config: ServiceCheckerConfig,
  deps: Pick<CheckerOptions, "db" | "source" | "quota" | "clock" | "logger">,
  maxReceiptsPerTick = receiptsPerTick(config.checkerCron, config.uscisRatePerSecond),
) {
  return createChecker({
    ...deps,
    checkIntervalMinutes: config.checkIntervalMinutes,
    maxReceiptsPerTick,
    planNotifications: createNotificationPlanner(deps.logger),
    onCheckFailing: emitCheckFailing,
  });
}
