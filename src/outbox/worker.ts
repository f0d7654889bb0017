import type { Registry } from "prom-client";
import type { Clock } from "../clock.ts";
import type { Db, Executor } from "../db/connection.ts";
import { inSavepoint } from "../db/prepared.ts";
import type { OutboxChannel } from "../db/schema.ts";
import type { Logger } from "../logger.ts";
import { createGroupedOutcomes } from "./grouped-outcomes.ts";
import {
  claimableJobIds,
  jobsByIds,
  OutboxChannels,
  type OutboxJobRow,
  outcomeStatements,
  providerMessagesTaken,
  takeJobs,
} from "./outbox.queries.ts";
import { GiveUpAfterMs, type JobPayload } from "./outbox.ts";
import { countDelivery, type OutboxMetrics, outboxMetrics } from "./outbox-metrics.ts";
import type {
  DeliveryResult,
  EmailSender,
  WebhookSender,
  WhatsAppMessage,
  WhatsAppSender,
} from "./types.ts";

export interface OutboxWorkerOptions {
  db: Db;
  clock: Clock;
  logger: Logger;
  email: EmailSender;
  whatsapp: WhatsAppSender;
  webhooks?: WebhookSender;
  /** How long a taken job is ours before another run may take it again. */
  leaseMs?: number;
  /**
   * Jobs taken per run. Each run pays for a claim and a few commits whatever its size, so a
   * hundred share them; their requests go out together, and even at Resend's default pace
   * (2 e-mails a second) a run's e-mails take under a minute, well inside a lease.
   */
  batchSize?: number;
  /**
   * E-mail requests in flight at once (each job has its own key, so any order will do), and
   * webhook endpoints being called at once.
   */
  sendConcurrency?: number;
  /** How long a finished job's outcome may wait to share a commit with others. */
  commitWindowMs?: number;
  /**
   * How long after an interrupted WhatsApp request started it can no longer reach Twilio: only
   * then does finding no message mean it never arrived. The lease plus a minute by default.
   */
  reconcileAfterMs?: number;
  /** WhatsApp requests in flight at once, their starts committed together in one commit. */
  whatsappConcurrency?: number;
  /** Where deliveries are counted by channel and outcome, for /metrics. */
  metrics?: { registry: Registry };
}

export interface RunSummary {
  claimed: number;
  sent: number;
  retried: number;
  failed: number;
  skipped: number;
}

export interface OutboxWorker {
  /** One run of every channel's lane at once (a lane already running is left to it). */
  runOnce(): Promise<RunSummary>;
  /** Takes this channel's jobs due now, delivers them, and records every outcome. */
  runLane(channel: OutboxChannel): Promise<RunSummary>;
  readonly running: boolean;
  /** The jobs runs hold now, taken and not yet recorded: what a cut-short stop leaves. */
  held(): { id: number; channel: OutboxChannel }[];
}

/**
 * WhatsApp has no idempotency key: a job whose request had started when the process stopped
 * may have reached Twilio, so it is looked for there before anything else (see reconcile).
 * Only a job Twilio could not be asked about for GiveUpAfterMs is closed with this reason,
 * rather than risk a message twice; a later status callback can still confirm it delivered.
 */
export const UnknownWhatsAppOutcome =
  "outcome unknown: the service stopped while sending; not sent again so it cannot arrive twice";

/**
 * How far our clock and Twilio's may disagree. The window it widens may take in a message sent
 * just before this one to the same user: that one's SID is on its own job, which rules it out.
 */
const ClockSkewMs = 60_000;

interface Claimed {
  job: OutboxJobRow;
  interrupted: boolean;
  /** Set when the claim's own commit wrote this job's send start. */
  startedWithClaim?: number;
}

/**
 * A job whose lease has ended counts as abandoned and may be taken again, so a run must be done
 * well within its lease. Paced e-mail is what can take long: at a slow pace (EMAIL_RATE_PER_SECOND
 * under 1) a hundred e-mails would outlast it, so a run holds what the pace sends in half a lease.
 */
export function runSize(wanted: number, leaseMs: number, emailsPerSecond?: number): number {
  if (emailsPerSecond === undefined) return wanted;
  return Math.max(1, Math.min(wanted, Math.floor((emailsPerSecond * leaseMs) / 2000)));
}

/**
 * A sign-in code is looked for at each e-mail claim, so a paced lane claims what it sends in a
 * few seconds: a code queued behind a run of verification e-mails waits that long, not the
 * minute a run of a hundred takes at Resend's 2 a second (codes last ten minutes).
 */
const PacedEmailRunMs = 5_000;

export function emailRunSize(wanted: number, leaseMs: number, emailsPerSecond?: number) {
  const fitsLease = runSize(wanted, leaseMs, emailsPerSecond);
  if (emailsPerSecond === undefined) return fitsLease;
  return Math.max(1, Math.min(fitsLease, Math.ceil((emailsPerSecond * PacedEmailRunMs) / 1000)));
}

export function createOutboxWorker(options: OutboxWorkerOptions): OutboxWorker {
  const { db, clock, logger } = options;
  const leaseMs = options.leaseMs ?? 120_000;
  const batchSize = options.batchSize ?? 100;
  const runSizes: Record<OutboxChannel, number> = {
    email: emailRunSize(batchSize, leaseMs, options.email.ratePerSecond),
    whatsapp: batchSize,
    webhook: batchSize,
  };
  const metrics: OutboxMetrics | undefined =
    options.metrics && outboxMetrics(options.metrics.registry);
  const sendConcurrency = Math.max(1, options.sendConcurrency ?? 16);
  const reconcileAfterMs = options.reconcileAfterMs ?? leaseMs + 60_000;
  const whatsappConcurrency = Math.max(1, options.whatsappConcurrency ?? 32);
  const statements = outcomeStatements(db);
  const outcomes = createGroupedOutcomes({
    db,
    clock,
    windowMs: options.commitWindowMs ?? 20,
  });
  const running = new Set<OutboxChannel>();
  const holding = new Map<OutboxChannel, Set<number>>();

  /**
   * This channel's due jobs, oldest first; for e-mail, sign-in codes first. In id order
   * otherwise, which keeps each webhook's events in the order they happened.
   */
  function due(tx: Executor, channel: OutboxChannel, now: number): OutboxJobRow[] {
    const size = runSizes[channel];
    let ids = claimableJobIds(tx, now, size, channel);
    let urgent = new Set<number>();
    if (channel === "email") {
      urgent = new Set(claimableJobIds(tx, now, size, channel, true));
      ids = [...urgent, ...ids.filter((id) => !urgent.has(id))].slice(0, size);
    }
    const rank = (job: OutboxJobRow) => (urgent.has(job.id) ? 0 : 1);
    const found = jobsByIds(tx, ids).sort((a, b) => rank(a) - rank(b) || a.id - b.id);
    return channel === "webhook" ? fewPerWebhook(found) : found;
  }

  function claim(channel: OutboxChannel): Claimed[] {
    const now = clock.now();
    const leaseUntil = now + leaseMs;
    return db.transaction((tx) => {
      const found = due(tx, channel, now);
      takeJobs(
        tx,
        found.map((job) => job.id),
        leaseUntil,
        now,
      );
      const claimed: Claimed[] = found.map((job) => ({
        job: {
          ...job,
          state: "in_flight",
          leaseUntil,
          attempts: job.attempts + 1,
          updatedAt: now,
        },
        // Only a job whose request had started may have reached the provider before a crash;
        // a retry clears the start unless the job is still being looked for (reconcile).
        interrupted: job.sendStartedAt !== null,
      }));
      // The first WhatsApp group's requests leave as soon as this commit is done, so their
      // starts go in it rather than in a commit of their own. Not a group with a job to look
      // for first: its look-ups could hold the requests well past that start.
      // Should those writes fail, the claim stands and the group commits its starts as others
      // do, or is retried without a request if that fails too.
      const first = groups(claimed.filter(({ job }) => job.channel === "whatsapp"))[0];
      if (first?.every(({ interrupted }) => !interrupted)) {
        try {
          inSavepoint(tx, () => {
            for (const { job } of first) statements.sendStarted.run({ id: job.id, at: now });
          });
          for (const entry of first) {
            entry.job.sendStartedAt = now;
            entry.startedWithClaim = now;
          }
        } catch {}
      }
      return claimed;
    });
  }

  /** E-mail and webhooks: their providers drop a repeat, so a job is simply sent. */
  async function deliver(job: OutboxJobRow): Promise<DeliveryResult> {
    const payload = job.payload as JobPayload;
    if (payload.channel === "email") {
      return options.email.send(payload.message, job.idempotencyKey, payload.redact);
    }
    if (payload.channel === "whatsapp") throw new Error("WhatsApp goes through deliverWhatsApp");
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

  /**
   * WhatsApp, which has no idempotency key: several requests at a time, each group's starts
   * committed before its requests leave (the first group's with the claim, the others' with
   * the outcomes finished so far), so that a crash leaves every request that may have reached
   * Twilio marked, to be looked for (reconcile).
   * A user's jobs never share a group, or a claim: an earlier one is finished first. Nor do
   * two jobs to one number, so the look-up of one cannot find the other's message.
   */
  async function deliverWhatsApp(
    claimed: Claimed[],
    finish: (job: OutboxJobRow, result: DeliveryResult) => void,
  ): Promise<void> {
    for (const group of groups(claimed)) {
      const ready = (
        await Promise.all(
          group.map(async ({ job, interrupted }) => {
            if (!interrupted) return job;
            const found = await attempt(job.sendStartedAt, () => reconcile(job, message(job)));
            if (found) finish(job, found);
            return found ? null : job;
          }),
        )
      ).filter((job) => job !== null);
      if (ready.length === 0) continue;
      const withClaim = group[0]!.startedWithClaim;
      let startedAt: number;
      try {
        startedAt =
          withClaim !== undefined && group.every((entry) => entry.startedWithClaim === withClaim)
            ? withClaim
            : outcomes.markSendStarted(ready.map((job) => job.id));
      } catch (error) {
        // Nothing left: each job keeps the start it had, if it had one.
        for (const job of ready) finish(job, thrown(error, job.sendStartedAt));
        continue;
      }
      await Promise.all(
        ready.map(async (job) => {
          const sent = await attempt(startedAt, () =>
            options.whatsapp.send(message(job), job.idempotencyKey),
          );
          const uncertain = sent.outcome === "retry" && sent.mayHaveLanded === true;
          finish(job, uncertain ? { ...sent, sendStartedAt: startedAt } : sent);
        }),
      );
    }
  }

  function groups(claimed: Claimed[]): Claimed[][] {
    const all: Claimed[][] = [];
    let current: Claimed[] = [];
    const numbers = new Set<string>();
    for (const entry of claimed) {
      const to = message(entry.job).to;
      if (current.length === whatsappConcurrency || numbers.has(to)) {
        all.push(current);
        current = [];
        numbers.clear();
      }
      current.push(entry);
      numbers.add(to);
    }
    if (current.length > 0) all.push(current);
    return all;
  }

  /**
   * A WhatsApp job whose request had started when the process stopped: Twilio is asked for a
   * message to the user created since that start. Found, the job is sent with that message's
   * SID (status callbacks find it by it). Not found once the request can no longer land, it
   * is safe to send: null, and the caller sends as usual. Anything short of that certainty
   * (a failed look-up, or too soon to tell) is retried with the start kept, so the next claim
   * looks again rather than sends.
   */
  async function reconcile(job: OutboxJobRow, message: WhatsAppMessage) {
    const startedAt = job.sendStartedAt!;
    // Taken before the look-up: Twilio answers as of a moment later still.
    const now = clock.now();
    const settled = now >= startedAt + reconcileAfterMs;
    const lookup = await options.whatsapp.findSent(message, {
      from: startedAt - ClockSkewMs,
      until: startedAt + reconcileAfterMs + ClockSkewMs,
    });
    let result: DeliveryResult | null;
    if (lookup.outcome === "listed") {
      const taken = providerMessagesTaken(db, "whatsapp", lookup.sids, job.id);
      const sid = lookup.sids.find((candidate) => !taken.has(candidate));
      result = sid
        ? { outcome: "sent", providerMessageId: sid }
        : settled
          ? null
          : {
              outcome: "retry",
              error: "interrupted send not at Twilio yet; looking again once it cannot arrive",
              retryAfterMs: startedAt + reconcileAfterMs - now,
              sendStartedAt: startedAt,
            };
    } else {
      result = {
        outcome: "retry",
        error: `looking for an interrupted send: ${lookup.error}`,
        sendStartedAt: startedAt,
      };
    }
    if (result?.outcome === "retry" && now - job.createdAt >= GiveUpAfterMs) {
      result = { outcome: "failed", error: UnknownWhatsAppOutcome };
    }
    logger.info(
      {
        job_id: job.id,
        channel: "whatsapp",
        reconciled: result === null ? "sending_again" : result.outcome,
        provider_message_id: result?.outcome === "sent" ? result.providerMessageId : undefined,
      },
      "whatsapp send reconciled",
    );
    return result;
  }

  async function deliverChannel(
    claimed: Claimed[],
    channel: OutboxChannel,
    summary: RunSummary,
  ): Promise<void> {
    const written: Promise<void>[] = [];
    let writeFailure: { error: unknown } | null = null;
    const finish = (job: OutboxJobRow, result: DeliveryResult) => {
      const outcome = result.outcome;
      written.push(
        outcomes.record(job, result).then(
          (finished) => {
            holding.get(channel)?.delete(job.id);
            const counted = finished.state === "pending" ? "retry" : outcome;
            count(summary, counted);
            countDelivery(metrics, channel, counted);
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
    };
    try {
      const send = async ({ job }: Claimed) => {
        finish(job, await attempt(null, () => deliver(job)));
      };
      if (channel === "whatsapp") await deliverWhatsApp(claimed, finish);
      else if (channel === "email") await inLanes(claimed, sendConcurrency, send);
      else {
        // One endpoint's events in order, so a 410 stops the rest before they are sent.
        await inLanes(byWebhook(claimed), sendConcurrency, async (events) => {
          for (const event of events) await send(event);
        });
      }
    } finally {
      outcomes.flush();
    }
    await Promise.all(written);
    if (writeFailure) throw (writeFailure as { error: unknown }).error;
  }

  /**
   * One channel's run. Each channel has its own: paced e-mail, a WhatsApp group's look-ups or a
   * webhook that times out hold only their own channel's next claim, never another's.
   */
  async function runLane(channel: OutboxChannel): Promise<RunSummary> {
    const summary = emptySummary();
    if (running.has(channel)) return summary;
    running.add(channel);
    try {
      const claimed = claim(channel);
      summary.claimed = claimed.length;
      holding.set(channel, new Set(claimed.map(({ job }) => job.id)));
      await deliverChannel(claimed, channel, summary);
    } finally {
      running.delete(channel);
    }
    return summary;
  }

  return {
    runLane,
    async runOnce() {
      const summaries = await Promise.all(OutboxChannels.map(runLane));
      const total = emptySummary();
      for (const lane of summaries) {
        for (const key of Object.keys(total) as (keyof RunSummary)[]) total[key] += lane[key];
      }
      return total;
    },
    get running() {
      return running.size > 0;
    },
    held() {
      return [...holding].flatMap(([channel, ids]) => [...ids].map((id) => ({ id, channel })));
    },
  };
}

/**
 * A webhook's events go one after another, each up to DeliveryTimeoutMs; a few per run keep
 * an endpoint that times out from holding the webhook lane (every other endpoint) for long.
 */
const WebhookEventsPerRun = 5;

/** The jobs, oldest first, less any webhook's events past its first WebhookEventsPerRun. */
function fewPerWebhook(jobs: OutboxJobRow[]): OutboxJobRow[] {
  const taken = new Map<number, number>();
  return jobs.filter((job) => {
    if (job.channel !== "webhook" || job.webhookId === null) return true;
    const count = (taken.get(job.webhookId) ?? 0) + 1;
    taken.set(job.webhookId, count);
    return count <= WebhookEventsPerRun;
  });
}

function byWebhook(claimed: Claimed[]): Claimed[][] {
  const groups = new Map<number | null, Claimed[]>();
  for (const entry of claimed) {
    const group = groups.get(entry.job.webhookId);
    if (group) group.push(entry);
    else groups.set(entry.job.webhookId, [entry]);
  }
  return [...groups.values()];
}

/** `work` over `items`, taken in order, at most `lanes` at a time. */
async function inLanes<T>(items: T[], lanes: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(lanes, items.length) }, lane));
}

const message = (job: OutboxJobRow) =>
  (job.payload as Extract<JobPayload, { channel: "whatsapp" }>).message;

/**
 * A sender or a look-up that throws has told us nothing final: a passing failure. A WhatsApp
 * request that may have left keeps its start, so the next attempt looks for it first.
 */
async function attempt<T extends DeliveryResult | null>(
  sendStartedAt: number | null,
  run: () => Promise<T>,
): Promise<T | DeliveryResult> {
  try {
    return await run();
  } catch (error) {
    return thrown(error, sendStartedAt);
  }
}

function thrown(error: unknown, sendStartedAt: number | null): DeliveryResult {
  const text = error instanceof Error ? error.message : "error";
  return sendStartedAt === null
    ? { outcome: "retry", error: text }
    : { outcome: "retry", error: text, sendStartedAt };
}

const emptySummary = (): RunSummary => ({ claimed: 0, sent: 0, retried: 0, failed: 0, skipped: 0 });

function count(summary: RunSummary, outcome: DeliveryResult["outcome"]): void {
  if (outcome === "sent") summary.sent += 1;
  else if (outcome === "retry") summary.retried += 1;
  else if (outcome === "failed") summary.failed += 1;
  else summary.skipped += 1;
}

/**
 * Runs each channel's lane until stopped: straight on while it has work, then once a second.
 * A run that throws is logged and its lane carries on; the jobs it held come back when their
 * leases end.
 */
export function startOutboxLoop(worker: OutboxWorker, logger: Logger, idleMs = 1000) {
  let stopped = false;
  const wakes = new Set<() => void>();
  const lane = async (channel: OutboxChannel) => {
    while (!stopped) {
      let claimed = 0;
      try {
        claimed = (await worker.runLane(channel)).claimed;
      } catch (error) {
        logger.error({ err: error, channel }, "outbox run failed");
      }
      if (claimed === 0 && !stopped) {
        await new Promise<void>((resolve) => {
          const wake = () => {
            wakes.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, idleMs);
          wakes.add(wake);
        });
      }
    }
  };
  const loops = Promise.all(OutboxChannels.map(lane));
  return {
    /**
     * Lets the current runs finish, then ends the loop. Given a deadline (epoch ms, the system
     * clock's), returns then at the latest: what is still being sent is left in flight, to be
     * sent again after a restart, and a warning says which jobs those are.
     */
    async stop(deadline?: number): Promise<void> {
      stopped = true;
      for (const wake of [...wakes]) wake();
      if (deadline === undefined) return void (await loops);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finished = await Promise.race([
        loops.then(() => true),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
        }),
      ]);
      clearTimeout(timer);
      if (finished) return;
      const held = worker.held();
      const channels: Partial<Record<OutboxChannel, number>> = {};
      for (const job of held) channels[job.channel] = (channels[job.channel] ?? 0) + 1;
      logger.warn(
        { jobs: held.length, channels, job_ids: held.map((job) => job.id).slice(0, 100) },
        "outbox stopped with deliveries unfinished; they are sent again after a restart",
      );
    },
  };
}
