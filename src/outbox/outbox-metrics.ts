import { Counter, Gauge, type Registry } from "prom-client";
import type { OutboxChannel } from "../db/schema.ts";
import { type OutboxBacklog, OutboxChannels } from "./outbox.queries.ts";
import type { DeliveryResult } from "./types.ts";

export type OutboxMetrics = ReturnType<typeof register>;

const Outcomes: DeliveryResult["outcome"][] = ["sent", "retry", "failed", "skipped"];

/**
 * What an operator alerts on: a channel falling behind (due jobs, the oldest one's wait) and
 * a provider refusing (deliveries by outcome). Labels are the three channels and four
 * outcomes, never a partner, endpoint or address, so the series stay few.
 */
function register(registry: Registry) {
  const metrics = {
    due: new Gauge({
      name: "immigraflow_outbox_jobs_due",
      help: "Outbox jobs due now (pending and due, or held past their lease), by channel",
      labelNames: ["channel"],
      registers: [registry],
    }),
    oldestDue: new Gauge({
      name: "immigraflow_outbox_oldest_due_seconds",
      help: "How overdue the most overdue outbox job is, by channel; waiting retries do not count",
      labelNames: ["channel"],
      registers: [registry],
    }),
    jobs: new Gauge({
      name: "immigraflow_outbox_jobs",
      help: "Unfinished outbox jobs, by channel and state (pending includes scheduled retries)",
      labelNames: ["channel", "state"],
      registers: [registry],
    }),
    deliveries: new Counter({
      name: "immigraflow_outbox_deliveries_total",
      help: "Delivery attempts recorded, by channel and outcome (retry: to be tried again)",
      labelNames: ["channel", "outcome"],
      registers: [registry],
    }),
  };
  // Every series from the start, so a rate() over a quiet channel reads 0, not nothing.
  for (const channel of OutboxChannels) {
    for (const outcome of Outcomes) metrics.deliveries.inc({ channel, outcome }, 0);
  }
  return metrics;
}

const byRegistry = new WeakMap<Registry, OutboxMetrics>();

/** One set per registry: the worker counts deliveries, /metrics sets the gauges, on the same. */
export function outboxMetrics(registry: Registry): OutboxMetrics {
  let metrics = byRegistry.get(registry);
  if (!metrics) {
    metrics = register(registry);
    byRegistry.set(registry, metrics);
  }
  return metrics;
}

export function setBacklogGauges(metrics: OutboxMetrics, backlog: OutboxBacklog, now: number) {
  for (const channel of OutboxChannels) {
    const entry = backlog[channel];
    metrics.due.set({ channel }, entry.due);
    const overdueMs = entry.oldestDueAt === null ? 0 : Math.max(0, now - entry.oldestDueAt);
    metrics.oldestDue.set({ channel }, overdueMs / 1000);
    metrics.jobs.set({ channel, state: "pending" }, entry.pending);
    metrics.jobs.set({ channel, state: "in_flight" }, entry.inFlight);
  }
}

export function countDelivery(
  metrics: OutboxMetrics | undefined,
  channel: OutboxChannel,
  outcome: DeliveryResult["outcome"],
) {
  metrics?.deliveries.inc({ channel, outcome });
}
