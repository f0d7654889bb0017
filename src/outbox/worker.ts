import type { Clock } from "../clock.ts";
import type { Db } from "../db/connection.ts";
import type { OutboxChannel } from "../db/schema.ts";
import type { Logger } from "../logger.ts";
import { createGroupedOutcomes } from "./grouped-outcomes.ts";
import { claimableJobIds, jobsByIds, type OutboxJobRow, takeJobs } from "./outbox.queries.ts";
import type { JobPayload } from "./outbox.ts";
import type { DeliveryResult, EmailSender, WebhookSender, WhatsAppSender } from "./types.ts";

export interface OutboxWorkerOptions {
  db: Db;
  clock: Clock;
  logger: Logger;
  email: EmailSender;
  whatsapp: WhatsAppSender;
  webhooks?: WebhookSender;
  /** How long a taken job is ours before another run may take it again. */
  leaseMs?: number;
  /** Jobs taken per run; small, so a lease comfortably outlives the slowest batch. */
  batchSize?: number;
  /** How long a finished job's outcome may wait to share a commit with others. */
  commitWindowMs?: number;
}

export interface RunSummary {
  claimed: number;
  sent: number;
  retried: number;
  failed: number;
  skipped: number;
}

export interface OutboxWorker {
  /** Takes the jobs due now, delivers them, and records every outcome. */
  runOnce(): Promise<RunSummary>;
  readonly running: boolean;
}

/**
 * WhatsApp has no idempotency key: a job whose request had started when the process stopped
 * may have reached Twilio. It is closed rather than sent again, because a
 * message twice is worse than the rare message lost in that instant; a later status callback
 * from Twilio can still confirm that it was delivered.
 */
export const UnknownWhatsAppOutcome =
  "outcome unknown: the service stopped while sending; not sent again so it cannot arrive twice";

interface Claimed {
  job: OutboxJobRow;
  interrupted: boolean;
}

export function createOutboxWorker(options: OutboxWorkerOptions): OutboxWorker {
  const { db, clock, logger } = options;
  const leaseMs = options.leaseMs ?? 120_000;
  const batchSize = options.batchSize ?? 20;
  const outcomes = createGroupedOutcomes({
    db,
    clock,
    windowMs: options.commitWindowMs ?? 20,
  });
  let running = false;

  function claim(): Claimed[] {
    const now = clock.now();
    const leaseUntil = now + leaseMs;
    return db.transaction((tx) => {
      const found = jobsByIds(tx, claimableJobIds(tx, now, batchSize));
      takeJobs(
        tx,
        found.map((job) => job.id),
        leaseUntil,
        now,
      );
      return found
        .sort((a, b) => a.id - b.id)
        .map((job) => ({
          job: {
            ...job,
            state: "in_flight",
            leaseUntil,
            attempts: job.attempts + 1,
            updatedAt: now,
          },
          // Only a job whose request had started may have reached the provider before a crash.
          interrupted: job.state === "in_flight" && job.sendStartedAt !== null,
        }));
    });
  }

  async function deliver(job: OutboxJobRow, interrupted: boolean): Promise<DeliveryResult> {
    const payload = job.payload as JobPayload;
    if (payload.channel === "email") {
      return options.email.send(payload.message, job.idempotencyKey, payload.redact);
    }
    if (payload.channel === "webhook") {
      if (!options.webhooks || job.webhookId === null) {
        return { outcome: "retry", error: "no webhook sender in this process" };
      }
      // Partners dedupe on webhook-id, so a delivery cut short by a crash is simply sent again.
      return options.webhooks.send({
        webhookId: job.webhookId,
        jobId: job.id,
        attempt: job.attempts,
        event: payload.event,
      });
    }
    if (interrupted) return { outcome: "failed", error: UnknownWhatsAppOutcome };
    // Durable before the request leaves; the outcomes finished so far share this commit.
    outcomes.markSendStarted(job.id);
    return options.whatsapp.send(payload.message, job.idempotencyKey);
  }

  async function deliverChannel(
    claimed: Claimed[],
    channel: OutboxChannel,
    summary: RunSummary,
  ): Promise<void> {
    const written: Promise<void>[] = [];
    let writeFailure: { error: unknown } | null = null;
    try {
      for (const { job, interrupted } of claimed) {
        if (job.channel !== channel) continue;
        let result: DeliveryResult;
        try {
          result = await deliver(job, interrupted);
        } catch (error) {
          // A sender that throws has told us nothing final: treat it as a passing failure.
          result = { outcome: "retry", error: error instanceof Error ? error.message : "error" };
        }
        const outcome = result.outcome;
        written.push(
          outcomes.record(job, result).then(
            (finished) => {
              count(summary, finished.state === "pending" ? "retry" : outcome);
              logger.info(
                {
                  job_id: job.id,
                  channel,
                  purpose: job.purpose,
                  attempt: job.attempts,
                  outcome: finished.state,
                  error: finished.lastError ?? undefined,
                },
                "outbox delivery",
              );
            },
            // Kept for the end of the run, so the jobs after it still go out meanwhile.
            (error: unknown) => {
              writeFailure ??= { error };
            },
          ),
        );
      }
    } finally {
      outcomes.flush();
    }
    await Promise.all(written);
    if (writeFailure) throw (writeFailure as { error: unknown }).error;
  }

  return {
    async runOnce() {
      const summary: RunSummary = { claimed: 0, sent: 0, retried: 0, failed: 0, skipped: 0 };
      if (running) return summary;
      running = true;
      try {
        const claimed = claim();
        summary.claimed = claimed.length;
        // The channels do not wait on each other; each keeps its own pace and order.
        await Promise.all([
          deliverChannel(claimed, "email", summary),
          deliverChannel(claimed, "whatsapp", summary),
          deliverChannel(claimed, "webhook", summary),
        ]);
      } finally {
        running = false;
      }
      return summary;
    },
    get running() {
      return running;
    },
  };
}

function count(summary: RunSummary, outcome: DeliveryResult["outcome"]): void {
  if (outcome === "sent") summary.sent += 1;
  else if (outcome === "retry") summary.retried += 1;
  else if (outcome === "failed") summary.failed += 1;
  else summary.skipped += 1;
}

/**
 * Runs the worker until stopped: straight on while there is work, then once a second. A run
 * that throws is logged and the loop carries on; the jobs it held come back when leases end.
 */
export function startOutboxLoop(worker: OutboxWorker, logger: Logger, idleMs = 1000) {
  let stopped = false;
  let wake: (() => void) | null = null;
  const loop = (async () => {
    while (!stopped) {
      let claimed = 0;
      try {
        claimed = (await worker.runOnce()).claimed;
      } catch (error) {
        logger.error({ err: error }, "outbox run failed");
      }
      if (claimed === 0 && !stopped) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, idleMs);
        });
        wake = null;
      }
    }
  })();
  return {
    /** Lets the current run finish, then ends the loop. */
    async stop(): Promise<void> {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
