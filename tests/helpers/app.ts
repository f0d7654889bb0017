import { createApp } from "../../src/app.ts";
import { createChecker } from "../../src/checker/checker.ts";
import { manualClock } from "../../src/clock.ts";
import { loadConfig } from "../../src/config.ts";
import { migrate, openDatabase } from "../../src/db/connection.ts";
import { createMetrics } from "../../src/http/metrics.ts";
import { createLogger, memoryDestination } from "../../src/logger.ts";
import { createEmailSender } from "../../src/notifications/email-sender.ts";
import { createNotificationPlanner } from "../../src/notifications/planner.ts";
import { createWhatsAppSender } from "../../src/notifications/whatsapp-sender.ts";
import type { EmailSender, WhatsAppSender } from "../../src/outbox/types.ts";
import { createOutboxWorker } from "../../src/outbox/worker.ts";
import { createPartnersService } from "../../src/partners/partners.service.ts";
import { createSource } from "../../src/uscis/source.ts";
import type { CaseStatusSource } from "../../src/uscis/types.ts";
import { emitCheckFailing } from "../../src/webhooks/webhook-events.ts";
import {
  createWebhookSender,
  type WebhookSenderOptions,
} from "../../src/webhooks/webhook-sender.ts";

export interface Credentials {
  id: number;
  apiKey: string;
  apiSecret: string;
}

/**
 * The real app on a fresh in-memory database, with a clock that only moves when told and the
 * log collected in memory. The USCIS source is the built-in simulator unless one is given.
 */
export function testApp(
  options: {
    env?: Record<string, string>;
    source?: CaseStatusSource;
    email?: EmailSender;
    whatsapp?: WhatsAppSender;
    /** Overrides for the webhook sender: a short timeout, a resolver, allow-private off. */
    webhookSender?: Partial<Omit<WebhookSenderOptions, "db" | "clock">>;
  } = {},
) {
  const database = openDatabase(":memory:");
  migrate(database);
  const clock = manualClock();
  const logs = memoryDestination();
  const logger = createLogger({ level: "debug", format: "json", destination: logs.stream });
  const config = loadConfig({ DATABASE_PATH: ":memory:", ...options.env }, false);
  const simulator = createSource(config, { db: database.db, clock, logger });
  const source = options.source ?? simulator.source;
  // Shared with the outbox worker, as serve does, so /metrics counts its deliveries.
  const metrics = createMetrics();
  const app = createApp({
    config,
    database,
    clock,
    logger,
    source,
    quota: simulator.quota,
    metrics,
  });
  const checker = createChecker({
    db: database.db,
    source,
    clock,
    logger,
    checkIntervalMinutes: config.checkIntervalMinutes,
    maxReceiptsPerTick: 100,
    planNotifications: createNotificationPlanner(logger),
    onCheckFailing: emitCheckFailing,
  });
  const outbox = createOutboxWorker({
    db: database.db,
    clock,
    logger,
    email: options.email ?? createEmailSender(config, logger),
    whatsapp: options.whatsapp ?? createWhatsAppSender(config, logger),
    webhooks: createWebhookSender({
      db: database.db,
      clock,
      allowPrivate: config.webhookAllowPrivate,
      allowHttp: config.webhookAllowHttp,
      ...options.webhookSender,
    }),
    metrics,
  });
  const partners = createPartnersService(database.db, clock);

  function createPartner(name = "Acme Immigration Law"): Credentials {
    const created = partners.create({ name, email: `ops@${name.length}.example` });
    return { id: created.client.id, apiKey: created.apiKey, apiSecret: created.apiSecret };
  }

  async function call(
    method: string,
    path: string,
    init: { body?: unknown; raw?: string; as?: Credentials; headers?: Record<string, string> } = {},
  ) {
    const headers: Record<string, string> = { ...init.headers };
    if (init.as) {
      headers["x-api-key"] = init.as.apiKey;
      headers["x-api-secret"] = init.as.apiSecret;
    }
    let body: string | undefined;
    if (init.raw !== undefined) body = init.raw;
    else if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers["content-type"] ??= "application/json";
    }
    const response = await app.handle(
      new Request(`http://localhost${path}`, { method, headers, body }),
    );
    const text = await response.text();
    // The per-request log line is written after the response is handed over.
    await new Promise((resolve) => setImmediate(resolve));
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: response.status, headers: response.headers, json, text };
  }

  return {
    app,
    database,
    db: database.db,
    clock,
    logs,
    logger,
    config,
    checker,
    outbox,
    createPartner,
    call,
  };
}

export type TestApp = ReturnType<typeof testApp>;

/** A row count, to prove that a refused request changed nothing. */
export function countRows(t: TestApp, table: string): number {
  const row = t.database.sqlite.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number };
  return row.n;
}
