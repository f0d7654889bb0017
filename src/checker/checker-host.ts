/**
 * The main thread's side of the checker thread (checker-thread.ts). `serve` ticks through it
 * as it would tick an in-process checker, hands live look-ups to it as a CaseStatusSource, and
 * reads the quota through it; nothing here touches USCIS.
 */
import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Db } from "../db/connection.ts";
import type { Logger } from "../logger.ts";
import type { CheckerThreadState } from "../ops/service-status.ts";
import { createQuota } from "../uscis/quota.ts";
import type { CaseStatusSource, SourceResult } from "../uscis/types.ts";
import type { TickSummary } from "./checker.ts";
import { type FromThread, QuotaShareBytes, readUnspent, type ToThread } from "./thread-messages.ts";

export interface CheckerHostOptions {
  config: Config;
  /** The main thread's connection: the quota count is read on it. */
  db: Db;
  clock: Clock;
  logger: Logger;
  /** Added to the checker thread's nice value; see thread-priority.ts. */
  niceness?: number;
  /** The thread's entry; tests point it at a wrapper of the real one. */
  entry?: string | URL;
  /** Wait before the first restart after a failure, doubled each time up to MaxRestartMs. */
  restartDelayMs?: number;
  /** How long start() waits for the thread to say it is ready; 30 s unless given. */
  startTimeoutMs?: number;
}

export interface CheckerHost {
  /** Starts the thread; rejects if it cannot start (a missing entry, a database it cannot open). */
  start(): Promise<void>;
  /** One tick in the thread. Rejects if the thread is down or ends during the tick. */
  tick(maxReceipts?: number): Promise<TickSummary>;
  readonly running: boolean;
  /** Live look-ups, through the thread's source: the one rate limiter and quota holder. */
  readonly source: CaseStatusSource;
  /** Today's quota as the thread's holder sees it, read without a message. */
  readonly quota: { remaining(): number; used(): number };
  readonly state: CheckerThreadState;
  /** Asks the thread to give back its unspent quota and close; waits at most `waitMs`. */
  stop(waitMs: number): Promise<void>;
}

const MaxRestartMs = 60_000;

type Failure = FromThread & { type: "failed" };
const Unexplained: Failure = {
  type: "failed",
  error: { name: "Error", message: "the thread ended without saying why" },
};

/**
 * Where the thread's entry is. From source it sits beside this file. In the executable every
 * entry point of the build (scripts/build.ts) is embedded under one root, the folder of
 * src/main.ts, and a relative specifier is resolved against that root, not against this file.
 */
export function checkerThreadEntry(moduleUrl = import.meta.url): string | URL {
  if (moduleUrl.startsWith("file:///$bunfs/") || moduleUrl.includes("/~BUN/")) {
    return "./checker/checker-thread.ts";
  }
  return new URL("./checker-thread.ts", moduleUrl);
}

interface Pending<T> {
  resolve(value: T): void;
  /** What the caller gets if the thread ends first. */
  orphaned(): void;
}

export function createCheckerHost(options: CheckerHostOptions): CheckerHost {
  const { config, clock, logger } = options;
  const firstDelayMs = options.restartDelayMs ?? 1_000;
  const quotaShare = new SharedArrayBuffer(QuotaShareBytes);
  const unspent = new Float64Array(quotaShare);
  // Never consumes: it only reads the count the thread's holder writes.
  const counted = createQuota({
    db: options.db,
    source: config.uscisMode === "simulator" ? "simulator" : "torch",
    dailyLimit: config.uscisDailyQuota,
    clock,
  });
  const state: CheckerThreadState = { state: "starting", restarts: 0, lastFailureAt: null };
  const ticks = new Map<number, Pending<TickSummary>>();
  const fetches = new Map<number, Pending<SourceResult>>();
  let worker: Worker | null = null;
  let nextId = 1;
  let tickInFlight = false;
  let stopping = false;
  let restartDelayMs = firstDelayMs;
  let startedOnce = false;
  let restartTimer: ReturnType<typeof setTimeout> | null = null;
  let lastFailure = Unexplained;
  let whenReady: { resolve(): void; reject(error: Error): void } | null = null;
  let loading: Promise<void> = Promise.resolve();
  let whenStopped: (() => void) | null = null;

  const send = (message: ToThread) => worker?.postMessage(message);

  function spawn(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => {
      whenReady = { resolve, reject };
    });
    // Look-ups asked for meanwhile wait on this, not on each other; its failure is start()'s.
    loading = ready.catch(() => undefined);
    const thread = new Worker(options.entry ?? checkerThreadEntry());
    worker = thread;
    thread.onmessage = (event: MessageEvent<FromThread>) => receive(event.data);
    // An entry that cannot be loaded ends the thread with no message of its own, and so does
    // an error the thread's own handlers did not get (under `bun test` they get none).
    thread.addEventListener("error", (event) => {
      event.preventDefault();
      if (lastFailure !== Unexplained) return;
      lastFailure = { type: "failed", error: { name: "Error", message: errorLine(event.message) } };
    });
    thread.addEventListener("close", (event) => ended(thread, (event as CloseEvent).code));
    send({ type: "start", config, quotaShare, niceness: options.niceness ?? 0 });
    return ready;
  }

  function receive(message: FromThread): void {
    switch (message.type) {
      case "ready":
        state.state = "running";
        startedOnce = true;
        whenReady?.resolve();
        whenReady = null;
        return;
      case "ticked":
        // A tick that ran to its end: whatever failed before is behind us.
        restartDelayMs = firstDelayMs;
        settle(ticks, message.id, message.summary);
        return;
      case "fetched":
        settle(fetches, message.id, message.result);
        return;
      case "stopped":
        state.state = "stopped";
        whenStopped?.();
        return;
      case "failed":
        lastFailure = message;
        return;
    }
  }

  function ended(thread: Worker, code: number): void {
    if (thread !== worker) return;
    worker = null;
    // What the thread had reserved is forfeited with it, and now counts as used.
    unspent.fill(0);
    for (const pending of [...ticks.values(), ...fetches.values()]) pending.orphaned();
    ticks.clear();
    fetches.clear();
    if (stopping || state.state === "stopped") {
      state.state = "stopped";
      whenStopped?.();
      return;
    }
    state.lastFailureAt = clock.now();
    const { error } = lastFailure;
    lastFailure = Unexplained;
    logger.error(
      {
        thread: "checker",
        exit_code: code,
        err: { type: error.name, message: error.message, stack: error.stack },
        restart_in_ms: restartDelayMs,
      },
      "checker thread ended; starting a new one",
    );
    whenReady?.reject(new Error(`the checker thread did not start: ${error.message}`));
    whenReady = null;
    // A service that never had a checker stops at start-up instead of serving without one.
    if (!startedOnce) {
      state.state = "stopped";
      return;
    }
    state.state = "restarting";
    restartTimer = setTimeout(restart, restartDelayMs);
    restartDelayMs = Math.min(MaxRestartMs, restartDelayMs * 2);
  }

  function restart(): void {
    restartTimer = null;
    if (stopping) return;
    state.restarts += 1;
    // A thread that cannot start is retried the same way a thread that died is.
    spawn().catch(() => undefined);
  }

  function settle<T>(pending: Map<number, Pending<T>>, id: number, value: T): void {
    pending.get(id)?.resolve(value);
    pending.delete(id);
  }

  function tick(maxReceipts?: number): Promise<TickSummary> {
    if (state.state === "starting" && !stopping) return Promise.resolve(skippedTick());
    if (!worker || state.state !== "running" || stopping) {
      return Promise.reject(new Error(`the checker thread is ${state.state}`));
    }
    if (tickInFlight) return Promise.resolve(skippedTick());
    const id = nextId++;
    tickInFlight = true;
    return new Promise<TickSummary>((resolve, reject) => {
      ticks.set(id, {
        resolve,
        orphaned: () => reject(new Error("the checker thread ended during the tick")),
      });
      send({ type: "tick", id, ...(maxReceipts === undefined ? {} : { maxReceipts }) });
    }).finally(() => {
      tickInFlight = false;
    });
  }

  const source: CaseStatusSource = {
    name: config.uscisMode === "simulator" ? "simulator" : "torch",
    async fetch(receiptNumber) {
      // A look-up in the moments after start-up waits for the thread rather than fail.
      if (state.state === "starting") await loading;
      if (!worker || state.state !== "running") {
        return Promise.resolve(unavailable(`the checker thread is ${state.state}`));
      }
      const id = nextId++;
      return new Promise<SourceResult>((resolve) => {
        fetches.set(id, {
          resolve,
          orphaned: () => resolve(unavailable("the checker thread ended during the look-up")),
        });
        send({ type: "fetch", id, receiptNumber });
      });
    },
  };

  const used = () => Math.max(0, counted.used() - readUnspent(unspent, clock.now()));

  return {
    async start() {
      const timeoutMs = options.startTimeoutMs ?? 30_000;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          // Ended here, so no late thread checks behind a service that gave up on it.
          stopping = true;
          worker?.terminate();
          reject(new Error(`the checker thread did not start within ${timeoutMs} ms`));
        }, timeoutMs);
      });
      try {
        await Promise.race([spawn(), late]);
      } finally {
        clearTimeout(timer);
      }
    },
    tick,
    get running() {
      return tickInFlight;
    },
    source,
    quota: {
      used,
      remaining: () => Math.max(0, config.uscisDailyQuota - used()),
    },
    get state() {
      return state;
    },
    async stop(waitMs) {
      stopping = true;
      if (restartTimer) clearTimeout(restartTimer);
      if (!worker) return;
      const stopped = new Promise<void>((resolve) => {
        whenStopped = resolve;
      });
      send({ type: "stop" });
      await Promise.race([stopped, Bun.sleep(waitMs)]);
    },
  };
}

/** What a tick asked for while another runs reports, as the checker's own would. */
export function skippedTick(): TickSummary {
  return {
    checked: 0,
    changed: 0,
    notFound: 0,
    failed: 0,
    rateLimited: false,
    skipped: true,
    durationMs: 0,
  };
}

/** Bun's report of an uncaught error quotes the source around it; the error's own line says it. */
function errorLine(report: string): string {
  return /^error: (.+)$/m.exec(report)?.[1] ?? report.split("\n")[0] ?? report;
}

function unavailable(reason: string): SourceResult {
  return { kind: "unavailable", reason };
}
