import { Elysia } from "elysia";
import type { Clock } from "../clock.ts";
import type { DatabaseHandle } from "../db/connection.ts";
import type { Metrics } from "../http/metrics.ts";
import { type OutboxBacklog, OutboxChannels, outboxBacklog } from "../outbox/outbox.queries.ts";
import { outboxMetrics, setBacklogGauges } from "../outbox/outbox-metrics.ts";
import { checkerLag } from "./checker-lag.queries.ts";
import { type DatabaseState, probeDatabase } from "./database-probe.ts";
import type { ServiceStatus } from "./service-status.ts";

interface Quota {
  remaining(): number;
  used(): number;
}

export interface OpsDeps {
  database: DatabaseHandle;
  clock: Clock;
  metrics: Metrics;
  status: ServiceStatus;
  quota: Quota;
  uscisMode: string;
  checkIntervalMinutes: number;
  version: string;
}

/** Lag past this means the checker is not keeping up with its own schedule. */
const LagWarningMs = 15 * 60 * 1000;
/** A checker thread that ended on an error this recently keeps /health degraded. */
const ThreadFailureWarningMs = 15 * 60 * 1000;
/**
 * A message overdue this long means a provider has been failing for a while, or a channel
 * cannot keep up. Only due jobs count: a retry scheduled for later is not late.
 */
const OutboxWarningMs = 30 * 60 * 1000;

export function opsRoutes(deps: OpsDeps) {
  // Registered now, so the delivery counters are scraped at 0 before the first delivery.
  outboxMetrics(deps.metrics.registry);
  return new Elysia({ tags: ["service"] })
    .get(
      "/health",
      ({ set }) => {
        const report = health(deps);
        set.status = report.database.ok ? 200 : 503;
        return report;
      },
      {
        detail: {
          summary: "Whether the service can serve, and what is degraded",
          responses: {
            "200": { description: "Serving: `status` is `ok` or `degraded`, with the reasons" },
            "503": {
              description: "The database cannot be read: the same report, `database.ok: false`",
            },
          },
        },
      },
    )
    .get(
      "/metrics",
      async () => {
        refreshGauges(deps);
        return new Response(await deps.metrics.registry.metrics(), {
          headers: { "content-type": deps.metrics.registry.contentType },
        });
      },
      { detail: { hide: true } },
    );
}

function health(deps: OpsDeps) {
  const now = deps.clock.now();
  let database: DatabaseState = probeDatabase(deps.database.sqlite);
  let lag = { lagMs: 0, dueReceipts: 0 };
  let backlog: OutboxBacklog | null = null;
  try {
    lag = checkerLag(deps.database.db, now);
    backlog = outboxBacklog(deps.database.db, now);
  } catch {
    database = { ok: false, writable: false, problem: "unknown" };
  }

  const tick = deps.status.lastTick;
  const asked = currentUscisTick(deps, now);
  const quotaRemaining = safe(() => deps.quota.remaining(), 0);
  const uscisFailing = asked !== null && asked.checked > 0 && asked.failed === asked.checked;
  const uscisState =
    quotaRemaining <= 0
      ? "quota_exhausted"
      : asked?.rateLimited
        ? "rate_limited"
        : uscisFailing
          ? "failing"
          : tick
            ? "ok"
            : "unknown";
  const checkerBehind = lag.lagMs > LagWarningMs;
  const outbox = outboxTotals(backlog, now);
  const outboxBehind = outbox.overdueMs > OutboxWarningMs;
  const thread = deps.status.checkerThread;
  const threadTroubled =
    thread !== null &&
    // Starting is not trouble: a thread that does not start within its timeout stops serve.
    (!["running", "starting"].includes(thread.state) ||
      (thread.lastFailureAt !== null && now - thread.lastFailureAt < ThreadFailureWarningMs));
  const degraded =
    !database.writable ||
    checkerBehind ||
    outboxBehind ||
    threadTroubled ||
    !["ok", "unknown"].includes(uscisState);

  return {
    status: degraded ? "degraded" : "ok",
    version: deps.version,
    uptime_seconds: Math.round((now - deps.status.startedAt) / 1000),
    database,
    checker: {
      lag_seconds: Math.round(lag.lagMs / 1000),
      due_receipts: lag.dueReceipts,
      last_tick_at: tick ? new Date(tick.at).toISOString() : null,
      interval_minutes: deps.checkIntervalMinutes,
      thread: thread
        ? {
            state: thread.state,
            restarts: thread.restarts,
            last_failure_at: thread.lastFailureAt
              ? new Date(thread.lastFailureAt).toISOString()
              : null,
          }
        : { state: "in_process", restarts: 0, last_failure_at: null },
    },
    uscis: { mode: deps.uscisMode, state: uscisState, quota_remaining: quotaRemaining },
    outbox: {
      pending: outbox.pending,
      in_flight: outbox.inFlight,
      due: outbox.due,
      oldest_pending_seconds: Math.round(outbox.overdueMs / 1000),
    },
  };
}

/**
 * The last tick that asked USCIS anything, while it still says something about USCIS now: a
 * failing receipt is asked again at least once per check interval, so an answer older than two
 * intervals means no receipt is left to ask about (its cases were let go), not an outage.
 */
function currentUscisTick(deps: OpsDeps, now: number) {
  const asked = deps.status.lastUscisTick;
  const staleAfterMs = 2 * deps.checkIntervalMinutes * 60_000;
  return asked !== null && now - asked.at <= staleAfterMs ? asked : null;
}

/** The channels together; `overdueMs` is how long the most overdue due job has waited. */
function outboxTotals(backlog: OutboxBacklog | null, now: number) {
  const totals = { pending: 0, inFlight: 0, due: 0, overdueMs: 0 };
  for (const channel of backlog ? OutboxChannels : []) {
    const entry = backlog![channel];
    totals.pending += entry.pending;
    totals.inFlight += entry.inFlight;
    totals.due += entry.due;
    if (entry.oldestDueAt !== null) {
      totals.overdueMs = Math.max(totals.overdueMs, now - entry.oldestDueAt);
    }
  }
  return totals;
}

function refreshGauges(deps: OpsDeps) {
  const now = deps.clock.now();
  deps.metrics.quotaRemaining.set(safe(() => deps.quota.remaining(), 0));
  const lag = safe(() => checkerLag(deps.database.db, now).lagMs, 0);
  deps.metrics.checkerLag.set(lag / 1000);
  const backlog = safe(() => outboxBacklog(deps.database.db, now), null);
  if (backlog) setBacklogGauges(outboxMetrics(deps.metrics.registry), backlog, now);
}

function safe<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}
