import type { Clock } from "../clock.ts";
import type { Db } from "../db/connection.ts";
import { inSavepoint } from "../db/prepared.ts";
import type { Logger } from "../logger.ts";
import {
  lookupStatus,
  SettledCategories,
  type StatusEntry,
  translateDescriptionPt,
} from "../uscis/catalogue.ts";
import type { CaseStatusSource, Observation, SourceResult } from "../uscis/types.ts";
import {
  type CadenceSettings,
  FailingAfter,
  nextCheckAfterInvalid,
  nextRegularCheck,
  nextRetryAfterFailure,
} from "./cadence.ts";
import { type PlanNotifications, skipNotifications } from "./notifications.ts";
import {
  type CaseRecord,
  classifyChange,
  cleanText,
  mergeHistory,
  observationDigest,
  readHistory,
} from "./observation.ts";
import {
  type CaseRecordState,
  dueReceipts,
  type Executor,
  insertStatusUpdate,
  loadCaseRecords,
  loadReceipts,
  loadWatchers,
  type ReceiptRow,
  type ReceiptState,
  recordReceiptCheck,
  type StatusUpdateRow,
  setCheckError,
  setLastStatusUpdate,
  setNotifyFields,
  setObservedDigest,
  updateReceipt,
  type Watcher,
  type WatchingCase,
} from "./receipts.queries.ts";

/** The part of the status catalogue the checker uses; tests may pass their own. */
export interface StatusCatalogue {
  lookupStatus(title: string): StatusEntry;
  translateDescriptionPt(descriptionEn: string): string | null;
}

export interface CheckFailingEvent {
  receiptNumber: string;
  watchers: Watcher[];
  consecutiveFailures: number;
  failingSince: number;
  lastError: string;
}

/**
 * Called once, inside the transaction that flags the receipt, when it has failed
 * FailingAfter times in a row; this is where `case.check_failing` gets written.
 */
export type OnCheckFailing = (tx: Executor, event: CheckFailingEvent) => void;

export interface CheckerOptions {
  db: Db;
  source: CaseStatusSource;
  clock: Clock;
  logger: Logger;
  checkIntervalMinutes: number;
  maxReceiptsPerTick: number;
  /** What is left of today's USCIS quota, when the source keeps count. */
  quota?: { remaining(): number };
  planNotifications?: PlanNotifications;
  onCheckFailing?: OnCheckFailing;
  catalogue?: StatusCatalogue;
  /** Defaults to 0.1: each receipt's schedule sits up to 10% either side of the interval. */
  jitterRatio?: number;
}

export interface TickSummary {
  /** Receipts USCIS answered in this tick (found, not found, malformed or failed). */
  checked: number;
  /** Status updates written. */
  changed: number;
  notFound: number;
  failed: number;
  rateLimited: boolean;
  skipped?: boolean;
  quotaLeft?: number;
  durationMs: number;
}

export interface Checker {
  tick(): Promise<TickSummary>;
  readonly running: boolean;
}

interface CheckerContext {
  db: Db;
  source: CaseStatusSource;
  clock: Clock;
  logger: Logger;
  maxReceiptsPerTick: number;
  quota: { remaining(): number } | undefined;
  planNotifications: PlanNotifications;
  onCheckFailing: OnCheckFailing | undefined;
  catalogue: StatusCatalogue;
  cadence: CadenceSettings;
}

/** What one receipt's result did, counted only once its transaction committed. */
interface Outcome {
  changed: number;
  notFound: number;
  failed: number;
}

export function createChecker(options: CheckerOptions): Checker {
  const ctx: CheckerContext = {
    db: options.db,
    source: options.source,
    clock: options.clock,
    logger: options.logger,
    maxReceiptsPerTick: options.maxReceiptsPerTick,
    quota: options.quota,
    planNotifications: options.planNotifications ?? skipNotifications,
    onCheckFailing: options.onCheckFailing,
    catalogue: options.catalogue ?? { lookupStatus, translateDescriptionPt },
    cadence: {
      checkIntervalMinutes: options.checkIntervalMinutes,
      jitterRatio: options.jitterRatio ?? 0.1,
    },
  };
  let running = false;

  async function tick(): Promise<TickSummary> {
    const started = performance.now();
    const summary = emptySummary();
    if (running) {
      summary.skipped = true;
      logTick(ctx, summary, started, { reason: "previous tick still running" });
      return summary;
    }

    running = true;
    try {
      await checkDueReceipts(ctx, summary);
      logTick(ctx, summary, started);
    } catch (error) {
      // A tick that throws must not kill the scheduler; the receipts it left stay due.
      logTick(ctx, summary, started, { err: error });
    } finally {
      running = false;
    }
    return summary;
  }

  return {
    tick,
    get running() {
      return running;
    },
  };
}

function emptySummary(): TickSummary {
  return { checked: 0, changed: 0, notFound: 0, failed: 0, rateLimited: false, durationMs: 0 };
}

function logTick(
  ctx: CheckerContext,
  summary: TickSummary,
  started: number,
  extra: { reason?: string; err?: unknown } = {},
): void {
  summary.durationMs = Math.round(performance.now() - started);
  if (ctx.quota) summary.quotaLeft = ctx.quota.remaining();
  const level = extra.err ? "error" : summary.rateLimited ? "warn" : "info";
  ctx.logger[level](
    {
      checked: summary.checked,
      changed: summary.changed,
      not_found: summary.notFound,
      failed: summary.failed,
      rate_limited: summary.rateLimited,
      skipped: summary.skipped === true,
      quota_left: summary.quotaLeft,
      duration_ms: summary.durationMs,
      ...extra,
    },
    "checker tick",
  );
}

/**
 * Answers are written in batches, one transaction each: a commit is an fsync (about a
 * millisecond under synchronous=FULL), which would otherwise cost more than checking a
 * receipt with the simulator. A batch closes at the batch size or BatchMs after it opened, so
 * at Torch's pace (a call every 100 ms or more) each answer is still written at once.
 *
 * Writing a batch holds the event loop, and HTTP requests wait behind it, so its size follows
 * what writing costs: a receipt whose answer changed takes about a millisecond (messages
 * rendered, some ten statements, 20 KB of rows), one that answered as before a small fraction
 * of that. Each batch is sized from the cost per receipt of the one before, to take about
 * BatchTargetMs, never fewer than MinBatch receipts (what a batch of changes always was) nor
 * more than MaxBatch.
 */
const MinBatch = 25;
const MaxBatch = 400;
const BatchTargetMs = 25;
const BatchMs = 10;

/** The next batch's size, from how long writing the last one took. */
export function nextBatchSize(receipts: number, tookMs: number): number {
  if (receipts === 0) return MinBatch;
  const perReceipt = Math.max(tookMs, 0.001) / receipts;
  return Math.max(MinBatch, Math.min(MaxBatch, Math.floor(BatchTargetMs / perReceipt)));
}

interface Answered {
  receiptNumber: string;
  result: Answer;
}

async function checkDueReceipts(ctx: CheckerContext, summary: TickSummary): Promise<void> {
  const quotaLeft = ctx.quota ? Math.max(0, Math.floor(ctx.quota.remaining())) : Infinity;
  const budget = Math.min(ctx.maxReceiptsPerTick, quotaLeft);
  const due = dueReceipts(ctx.db, ctx.clock.now(), budget);

  let next = 0;
  let batchSize = MinBatch;
  while (next < due.length) {
    const batch: Answered[] = [];
    const opened = performance.now();
    let rateLimited = false;
    while (next < due.length && batch.length < batchSize && performance.now() - opened < BatchMs) {
      const receiptNumber = due[next]!;
      next += 1;
      const result = await fetchResult(ctx.source, receiptNumber);
      if (result.kind === "rate_limited") {
        rateLimited = true;
        break;
      }
      batch.push({ receiptNumber, result });
    }

    summary.checked += batch.length;
    const writing = performance.now();
    addOutcome(summary, recordBatch(ctx, batch));
    batchSize = nextBatchSize(batch.length, performance.now() - writing);
    if (rateLimited) {
      // Every further call would be refused too; what is left stays due for the next tick.
      summary.rateLimited = true;
      return;
    }
    // The simulator never waits on I/O, so without this a tick would keep the event loop, and
    // every HTTP request behind it, from its first receipt to its last.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function addOutcome(into: Outcome, outcome: Outcome): void {
  into.changed += outcome.changed;
  into.notFound += outcome.notFound;
  into.failed += outcome.failed;
}

/** A source that throws is a source that failed, never an answer about the case. */
async function fetchResult(source: CaseStatusSource, receiptNumber: string) {
  try {
    const result = await source.fetch(receiptNumber);
    if (result.kind === "found" && cleanText(result.observation.statusTitle) === "") {
      return { kind: "unavailable", reason: "answer without a status title" } as const;
    }
    return result;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { kind: "unavailable", reason: `source threw: ${reason}` } as const;
  }
}

type Answer = Exclude<SourceResult, { kind: "rate_limited" }>;

/** A found answer with its digest, taken once for all the cases that watch the receipt. */
interface Found {
  observation: Observation;
  digest: string;
}

/**
 * True when the case's last status update already covers this very answer: comparing again
 * could only find what the comparison that set the digest found, no change.
 */
function covered(watcher: WatchingCase, found: Found): boolean {
  return watcher.observedDigest === found.digest;
}

/**
 * One transaction for the batch; counted only once it committed.
 *
 * The batch is first written straight through, with no savepoint per receipt: a savepoint
 * makes SQLite copy every page a receipt touches into a sub-journal (about 130 KB per new
 * receipt, spilled to a temporary file), far more than the receipt's own rows. Should any
 * receipt fail to record, that attempt is rolled back whole and the batch written again with a
 * savepoint each, so the one that fails takes only its own writes back, as it always did.
 */
function recordBatch(ctx: CheckerContext, batch: Answered[]): Outcome {
  const total: Outcome = { changed: 0, notFound: 0, failed: 0 };
  if (batch.length === 0) return total;
  const found = new Map<string, Found>();
  for (const { receiptNumber, result } of batch) {
    if (result.kind !== "found") continue;
    const { observation } = result;
    try {
      found.set(receiptNumber, { observation, digest: observationDigest(observation) });
    } catch {
      // An answer that cannot be read fails alone, in recordResult, like any other.
    }
  }
  try {
    const attempt = { began: false };
    let outcomes: Outcome[];
    try {
      outcomes = writeBatch(ctx, batch, found, attempt, false);
    } catch (error) {
      // No transaction (the lock not had in busy_timeout): asking again would only wait again.
      if (!attempt.began) throw error;
      outcomes = writeBatch(ctx, batch, found, attempt, true);
    }
    for (const outcome of outcomes) addOutcome(total, outcome);
  } catch (error) {
    // Nothing of the batch was written; each receipt keeps its schedule and is tried again.
    ctx.logger.error({ err: error, receipts: batch.length }, "checker could not record a batch");
    total.failed = batch.length;
  }
  return total;
}

/** The batch in one transaction; with `isolate`, each receipt in a savepoint of its own. */
function writeBatch(
  ctx: CheckerContext,
  batch: Answered[],
  found: Map<string, Found>,
  attempt: { began: boolean },
  isolate: boolean,
): Outcome[] {
  return ctx.db.transaction((tx) => {
    attempt.began = true;
    const states = loadReceipts(
      tx,
      batch.map((answered) => answered.receiptNumber),
    );
    // Only the cases an answer may have changed are read in full, with their last updates.
    const uncovered: number[] = [];
    for (const [receiptNumber, answer] of found) {
      for (const watcher of states.get(receiptNumber)?.watchers ?? []) {
        if (!covered(watcher, answer)) uncovered.push(watcher.caseId);
      }
    }
    const loaded: Loaded = {
      watchers: loadWatchers(tx, uncovered),
      records: loadCaseRecords(tx, uncovered),
    };
    return batch.map(({ receiptNumber, result }) =>
      recordResult(ctx, tx, states.get(receiptNumber), result, {
        found: found.get(receiptNumber),
        loaded,
        receiptNumber,
        isolate,
      }),
    );
  });
}

/** What the batch read in full for the cases its answers may change, by case id. */
interface Loaded {
  watchers: Map<number, Watcher>;
  records: Map<number, CaseRecordState>;
}

interface ResultContext {
  receiptNumber: string;
  /** Set when the answer is "found". */
  found: Found | undefined;
  loaded: Loaded;
  /** In a savepoint of its own, failing alone; otherwise a failure is thrown to the batch. */
  isolate: boolean;
}

function recordResult(
  ctx: CheckerContext,
  tx: Executor,
  state: ReceiptState | undefined,
  result: Answer,
  { receiptNumber, found, loaded, isolate }: ResultContext,
): Outcome {
  const now = ctx.clock.now();
  // The last case let go of the receipt while USCIS was answering.
  if (!state) return { changed: 0, notFound: 0, failed: 0 };
  // Known before anything is written, so it fails alone without taking the batch back.
  if (result.kind === "found" && !found) {
    return couldNotRecord(ctx, receiptNumber, new Error("the answer could not be digested"));
  }

  const write = (): Outcome => {
    switch (result.kind) {
      case "found":
        return recordFound(ctx, tx, state, found!, loaded, now);
      case "not_found":
        return recordNotFound(ctx, tx, state, now);
      case "invalid_receipt":
        return recordInvalid(ctx, tx, state, result.message, now);
      case "unavailable":
        return recordUnavailable(ctx, tx, state, result.reason, now);
    }
  };
  if (!isolate) return write();
  try {
    return inSavepoint(tx, write);
  } catch (error) {
    return couldNotRecord(ctx, receiptNumber, error);
  }
}

/** The receipt keeps its schedule, so it is tried again next tick. */
function couldNotRecord(ctx: CheckerContext, receiptNumber: string, error: unknown): Outcome {
  ctx.logger.error({ err: error, receipt_number: receiptNumber }, "checker could not record");
  return { changed: 0, notFound: 0, failed: 1 };
}

function caseIds(watchers: WatchingCase[]): number[] {
  return watchers.map((watcher) => watcher.caseId);
}

/** No updates yet: a case that has never been written for. */
const NoRecord: CaseRecordState = { latest: undefined, updateCount: 0 };

function recordFound(
  ctx: CheckerContext,
  tx: Executor,
  { receipt, watchers }: ReceiptState,
  found: Found,
  loaded: Loaded,
  now: number,
): Outcome {
  const { observation, digest } = found;
  let changed = 0;
  for (const watching of watchers) {
    if (covered(watching, found)) continue;
    const watcher = loaded.watchers.get(watching.caseId);
    if (!watcher) throw new Error(`case ${watching.caseId} was not read in full`);
    const record = loaded.records.get(watching.caseId) ?? NoRecord;
    if (writeCaseUpdate(ctx, tx, { ...watcher, ...record }, receipt, found, now)) {
      changed += 1;
    } else {
      // Next time the same answer needs no comparison.
      setObservedDigest(tx, watching.caseId, digest);
    }
  }
  // Most cases have no error to clear; an UPDATE that changes nothing still costs a write.
  setCheckError(tx, caseIds(watchers.filter((watcher) => watcher.checkError !== null)), null);

  const title = cleanText(observation.statusTitle);
  const settled = SettledCategories.has(ctx.catalogue.lookupStatus(title).category);
  recordReceiptCheck(tx, receipt.receiptNumber, {
    formType: observation.formType ?? receipt.formType,
    observationDigest: digest,
    lastCheckedAt: now,
    lastAttemptAt: now,
    nextCheckAt: nextRegularCheck(ctx.cadence, receipt.receiptNumber, now, settled),
    priority: false,
    consecutiveFailures: 0,
    lastError: null,
    failingSince: null,
  });
  return { changed, notFound: 0, failed: 0 };
}

function recordOf(statusUpdate: StatusUpdateRow): CaseRecord {
  return {
    title: statusUpdate.statusCode,
    description: statusUpdate.statusDescription,
    submittedAt: statusUpdate.submittedDate,
    modifiedAt: statusUpdate.modifiedDate,
    history: readHistory(statusUpdate.history),
  };
}

/** Compares the observation with this case's own last update; true when a row was written. */
function writeCaseUpdate(
  ctx: CheckerContext,
  tx: Executor,
  watcher: Watcher & CaseRecordState,
  receipt: ReceiptRow,
  { observation, digest }: Found,
  now: number,
): boolean {
  const previous = watcher.latest;
  const before = previous ? recordOf(previous) : null;
  const merged = mergeHistory(
    before?.history ?? [],
    observation.history,
    ctx.catalogue.translateDescriptionPt,
  );
  const after: CaseRecord = {
    title: cleanText(observation.statusTitle),
    description: cleanText(observation.statusDescription),
    // IOE receipts come with and without modifiedDate from one day to the next: a date left
    // out is unknown this time, not erased, and must not flip-flop into record updates.
    submittedAt: observation.submittedAt ?? before?.submittedAt ?? null,
    modifiedAt: observation.modifiedAt ?? before?.modifiedAt ?? null,
    history: merged.history,
  };
  const change = classifyChange(before, after, merged.added);
  if (!change) return false;

  const status = ctx.catalogue.lookupStatus(after.title);
  const inserted = insertStatusUpdate(tx, {
    caseId: watcher.case.id,
    kind: change.kind,
    category: status.category,
    statusCode: after.title,
    statusDescription: after.description,
    statusCodeEs: observation.statusTitleEs ?? null,
    statusDescriptionEs: observation.statusDescriptionEs ?? null,
    statusCodePt: status.titlePt ?? after.title,
    statusDescriptionPt:
      ctx.catalogue.translateDescriptionPt(after.description) ?? after.description,
    formType: observation.formType ?? previous?.formType ?? receipt.formType,
    detailMessage: change.detailMessage,
    submittedDate: after.submittedAt,
    modifiedDate: after.modifiedAt,
    history: after.history,
    timestamp: now,
    // Placeholders for the moment between the insert and the plan, inside one transaction.
    notified: 0,
    emailNotifyStatus: "pending",
    whatsappNotifyStatus: "pending",
    emailNotifyAttempts: 0,
    whatsappNotifyAttempts: 0,
    emailNotifyLastError: null,
    whatsappNotifyLastError: null,
    emailNotifySentAt: null,
    whatsappNotifySentAt: null,
  });
  const plan = ctx.planNotifications(tx, {
    statusUpdate: inserted,
    case: watcher.case,
    user: watcher.user,
    client: watcher.client,
    updateCount: watcher.updateCount + 1,
  });
  setNotifyFields(tx, inserted.id, plan);
  setLastStatusUpdate(tx, watcher.case.id, inserted.id, digest);
  return true;
}

function recordNotFound(
  ctx: CheckerContext,
  tx: Executor,
  { receipt, watchers }: ReceiptState,
  now: number,
): Outcome {
  setCheckError(tx, caseIds(watchers), "not_found");
  // A new receipt takes days to appear at USCIS: the regular pace, not a retry, finds it.
  updateReceipt(tx, receipt.receiptNumber, {
    lastCheckedAt: now,
    lastAttemptAt: now,
    nextCheckAt: nextRegularCheck(ctx.cadence, receipt.receiptNumber, now, false),
    priority: false,
    consecutiveFailures: 0,
    lastError: null,
    failingSince: null,
  });
  return { changed: 0, notFound: 1, failed: 0 };
}

function recordInvalid(
  ctx: CheckerContext,
  tx: Executor,
  { receipt, watchers }: ReceiptState,
  message: string,
  now: number,
): Outcome {
  ctx.logger.warn(
    { receipt_number: receipt.receiptNumber, uscis_message: message },
    "USCIS rejected a receipt number our normalisation accepted",
  );
  setCheckError(tx, caseIds(watchers), "invalid_receipt");
  updateReceipt(tx, receipt.receiptNumber, {
    lastCheckedAt: now,
    lastAttemptAt: now,
    nextCheckAt: nextCheckAfterInvalid(ctx.cadence, now),
    priority: false,
    consecutiveFailures: 0,
    lastError: `invalid_receipt: ${message}`,
    failingSince: null,
  });
  return { changed: 0, notFound: 0, failed: 1 };
}

function recordUnavailable(
  ctx: CheckerContext,
  tx: Executor,
  { receipt, watchers }: ReceiptState,
  reason: string,
  now: number,
): Outcome {
  const failures = receipt.consecutiveFailures + 1;
  const flagNow = failures >= FailingAfter && receipt.failingSince === null;
  const failingSince = flagNow ? now : receipt.failingSince;

  setCheckError(tx, caseIds(watchers), "upstream_unavailable");
  updateReceipt(tx, receipt.receiptNumber, {
    lastAttemptAt: now,
    nextCheckAt: nextRetryAfterFailure(ctx.cadence, now, failures),
    priority: false,
    consecutiveFailures: failures,
    lastError: reason,
    failingSince,
  });

  if (flagNow && failingSince !== null) {
    ctx.logger.warn(
      { receipt_number: receipt.receiptNumber, consecutive_failures: failures, reason },
      "receipt check failing",
    );
    if (ctx.onCheckFailing) {
      // Flagging is rare, so the cases are read in full only now, for the events.
      ctx.onCheckFailing(tx, {
        receiptNumber: receipt.receiptNumber,
        watchers: [...loadWatchers(tx, caseIds(watchers)).values()],
        consecutiveFailures: failures,
        failingSince,
        lastError: reason,
      });
    }
  }
  return { changed: 0, notFound: 0, failed: 1 };
}
