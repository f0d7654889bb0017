/**
 * The checker thread: a Bun Worker that `serve` starts for a file database (checker-host.ts).
 * It has its own bun:sqlite connection to the same WAL file and owns the process's one USCIS
 * source, so the rate limiter, the quota holder, the token cache and the 429 cool-down are
 * the same for the checker's ticks and for the live look-ups the main thread sends it.
 */
import { systemClock } from "../clock.ts";
import { type DatabaseHandle, openDatabase } from "../db/connection.ts";
import { createLogger, type Logger } from "../logger.ts";
import type { Quota } from "../uscis/quota.ts";
import { createSource } from "../uscis/source.ts";
import type { CaseStatusSource, SourceResult } from "../uscis/types.ts";
import type { Checker } from "./checker.ts";
import { createServiceChecker, receiptsPerTick } from "./service-checker.ts";
import {
  type FromThread,
  publishUnspent,
  type StartThread,
  type ToThread,
} from "./thread-messages.ts";
import { lowerThreadPriority } from "./thread-priority.ts";

declare const self: Worker;

interface Running {
  database: DatabaseHandle;
  logger: Logger;
  source: CaseStatusSource;
  quota: Quota;
  checkerFor(maxReceipts: number | undefined): Checker;
}

let running: Running | null = null;

const post = (message: FromThread) => postMessage(message);

function start({ config, quotaShare, niceness }: StartThread): Running {
  const clock = systemClock;
  const logger = createLogger({
    level: config.logLevel,
    format: config.logFormat,
    colorize: config.terminal,
  }).child({ thread: "checker" });
  const database = openDatabase(config.databasePath);
  const created = createSource(config, { db: database.db, clock, logger });
  const quota = created.quota;
  const share = new Float64Array(quotaShare);
  const publish = () => publishUnspent(share, clock.now(), quota.unspent());
  // After every call, so what the main thread reports as used is never ahead of the truth
  // by more than the call in flight.
  const source: CaseStatusSource = {
    name: created.source.name,
    async fetch(receiptNumber) {
      try {
        return await created.source.fetch(receiptNumber);
      } finally {
        publish();
      }
    },
  };
  const deps = { db: database.db, source, quota, clock, logger };
  const scheduled = receiptsPerTick(config.checkerCron, config.uscisRatePerSecond);
  const checkers = new Map<number, Checker>();
  const checkerFor = (maxReceipts = scheduled) => {
    let checker = checkers.get(maxReceipts);
    if (!checker) {
      checker = createServiceChecker(config, deps, maxReceipts);
      checkers.set(maxReceipts, checker);
    }
    return checker;
  };

  const reniced = lowerThreadPriority(niceness);
  logger.info(
    { uscis_source: source.name, receipts_per_tick: scheduled, niceness: reniced ? niceness : 0 },
    "checker thread started",
  );
  return { database, logger, source, quota, checkerFor };
}

async function lookUp(thread: Running, receiptNumber: string): Promise<SourceResult> {
  try {
    return await thread.source.fetch(receiptNumber);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { kind: "unavailable", reason: `source threw: ${reason}` };
  }
}

/** On a clean stop only: a crash forfeits the unspent block, which errs towards fewer calls. */
function stop(thread: Running): void {
  thread.quota.release();
  thread.database.close();
  thread.logger.info("checker thread stopped");
  running = null;
  self.onmessage = null;
  post({ type: "stopped" });
}

async function handle(message: ToThread): Promise<void> {
  if (message.type === "start") {
    running = start(message);
    post({ type: "ready" });
    return;
  }
  const thread = running;
  if (!thread) return;
  switch (message.type) {
    case "tick": {
      const summary = await thread.checkerFor(message.maxReceipts).tick();
      post({ type: "ticked", id: message.id, summary });
      return;
    }
    case "fetch":
      post({
        type: "fetched",
        id: message.id,
        result: await lookUp(thread, message.receiptNumber),
      });
      return;
    case "stop":
      stop(thread);
      return;
  }
}

/**
 * Whatever nothing else caught ends the thread, after the main thread has been told what it
 * was: the host logs it, shows it on /health and starts a new thread. Closing the connection
 * first makes sure no lock outlives the thread.
 */
function fail(error: unknown): void {
  const failure =
    error instanceof Error
      ? { name: error.name, message: error.message, stack: error.stack }
      : { name: "Error", message: String(error) };
  try {
    running?.database.close();
  } catch {
    // Closing is only a courtesy here; the thread ends either way.
  }
  post({ type: "failed", error: failure });
  // biome-ignore lint/style/noRestrictedGlobals: in a Worker this ends the thread, not the process
  process.exit(1);
}

// biome-ignore lint/style/noRestrictedGlobals: the thread's entry, like main.ts, owns these
process.on("uncaughtException", fail);
// biome-ignore lint/style/noRestrictedGlobals: as above
process.on("unhandledRejection", fail);
self.onmessage = (event: MessageEvent<ToThread>) => {
  handle(event.data).catch(fail);
};
