import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export type Metrics = ReturnType<typeof createMetrics>;

/** One registry per app, so tests that build several apps do not share counters. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "immigraflow_" });
  return {
    registry,
    httpRequests: new Counter({
      name: "immigraflow_http_requests_total",
      help: "HTTP requests answered, by route and status",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "immigraflow_http_request_duration_seconds",
      help: "Time to answer an HTTP request",
      labelNames: ["method", "route"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    checkerTicks: new Counter({
      name: "immigraflow_checker_ticks_total",
      help: "Checker ticks run",
      registers: [registry],
    }),
    receiptsChecked: new Counter({
      name: "immigraflow_receipts_checked_total",
      help: "Receipt look-ups by the checker, by outcome",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    statusUpdates: new Counter({
      name: "immigraflow_status_updates_total",
      help: "Status updates written",
      registers: [registry],
    }),
    quotaRemaining: new Gauge({
      name: "immigraflow_uscis_quota_remaining",
      help: "USCIS calls left today",
      registers: [registry],
    }),
    checkerLag: new Gauge({
      name: "immigraflow_checker_lag_seconds",
      help: "How overdue the most overdue watched receipt is",
      registers: [registry],
    }),
  };
}
