/**
 * Shared pieces of the fault tests: polling with a deadline (the only waiting these tests do),
 * the service wired in-process exactly as `serve` wires it (quota-aware checker, /health fed by
 * the ticks, outbox worker) on a manual clock, and helpers for the tests that drive the
 * compiled executable.
 */
import { Database } from "bun:sqlite";
import { mkdirSync, mkdtempSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../../src/app.ts";
import { createServiceChecker } from "../../src/cli/serve.ts";
import { manualClock } from "../../src/clock.ts";
import { loadConfig } from "../../src/config.ts";
import { migrate, openDatabase } from "../../src/db/connection.ts";
import { createMetrics } from "../../src/http/metrics.ts";
import { createLogger, memoryDestination } from "../../src/logger.ts";
import { createEmailSender } from "../../src/notifications/email-sender.ts";
import { createWhatsAppSender } from "../../src/notifications/whatsapp-sender.ts";
import { newServiceStatus, recordTick } from "../../src/ops/service-status.ts";
import { createOutboxWorker } from "../../src/outbox/worker.ts";
import { createPartnersService } from "../../src/partners/partners.service.ts";
import { createSource } from "../../src/uscis/source.ts";
import type { Observation } from "../../src/uscis/types.ts";
import { copyBinaryTo, ensureBinary, runBinary } from "../helpers/binary.ts";
import { copyWithWal } from "../helpers/database-copy.ts";

export const Minute = 60_000;
export const Hour = 60 * Minute;

export const TorchClientId = "faults-client";
export const TorchClientSecret = "faults-secret-never-logged";

/** Polls `check` every 20 ms until it holds, or fails with `explain()` after `timeoutMs`. */
export async function until(
  label: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  explain: () => string = () => "",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`not within ${timeoutMs} ms: ${label}\n${explain()}`);
    }
    await Bun.sleep(20);
  }
}

/** `count` distinct well-formed receipts, EAC99 followed by eight digits. */
export function receiptNumbers(count: number, first = 1): string[] {
  return Array.from({ length: count }, (_, i) => `EAC99${String(first + i).padStart(8, "0")}`);
}

/** A case USCIS keeps answering the same way, so any second status update is a false one. */
export function reviewedCase(receiptNumber: string): Observation {
  return {
    receiptNumber,
    formType: "I-765",
    statusTitle: "Case Is Being Actively Reviewed By USCIS",
    statusDescription:
      "As of March 20, 2026, we are actively reviewing your Form I-765, Receipt Number " +
      `${receiptNumber}.`,
    statusTitleEs: null,
    statusDescriptionEs: null,
    submittedAt: Date.UTC(2026, 2, 1, 14, 15, 0),
    modifiedAt: Date.UTC(2026, 2, 20, 20, 40, 12),
    history: [{ date: "2026-03-01", description: "Case Was Received", descriptionEs: null }],
  };
}

export function torchEnv(fake: { url: string; tokenUrl: string }): Record<string, string> {
  return {
    USCIS_MODE: "sandbox",
    USCIS_API_BASE_URL: fake.url,
    USCIS_TOKEN_URL: fake.tokenUrl,
    USCIS_CLIENT_ID: TorchClientId,
    USCIS_CLIENT_SECRET: TorchClientSecret,
  };
}

export interface Partner {
  id: number;
  api_key: string;
  api_secret: string;
}

export interface ServiceOptions {
  env?: Record<string, string>;
  /** ":memory:" unless given; a file lets a second connection compete for it. */
  databasePath?: string;
  clock?: ReturnType<typeof manualClock>;
}

/**
 * The service as `serve` builds it, minus the listener and the timers: `tick()` is one cron run
 * of the checker, reported to /health as the cron job reports it.
 */
export function faultService(options: ServiceOptions = {}) {
  const databasePath = options.databasePath ?? ":memory:";
  const database = openDatabase(databasePath);
  migrate(database);
  const clock = options.clock ?? manualClock();
  const logs = memoryDestination();
  const logger = createLogger({ level: "debug", format: "json", destination: logs.stream });
  const config = loadConfig({ DATABASE_PATH: databasePath, ...options.env }, false);
  const { source, quota } = createSource(config, { db: database.db, clock, logger });
  const metrics = createMetrics();
  const status = newServiceStatus(clock.now());
  const checker = createServiceChecker(config, { db: database.db, source, quota, clock, logger });
  const outbox = createOutboxWorker({
    db: database.db,
    clock,
    logger,
    email: createEmailSender(config, logger),
    whatsapp: createWhatsAppSender(config, logger),
  });
  const app = createApp({ config, database, clock, logger, source, quota, metrics, status });
  const partners = createPartnersService(database.db, clock);

  async function tick() {
    const summary = await checker.tick();
    if (!summary.skipped) recordTick(status, { at: clock.now(), ...summary });
    return summary;
  }

  function createPartner(name = "Fault Partner"): Partner {
    const created = partners.create({ name, email: "ops@faults.example" });
    return { id: created.client.id, api_key: created.apiKey, api_secret: created.apiSecret };
  }

  async function call(method: string, path: string, as?: Partner, body?: unknown) {
    const headers: Record<string, string> = {};
    if (as) {
      headers["x-api-key"] = as.api_key;
      headers["x-api-secret"] = as.api_secret;
    }
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await app.handle(
      new Request(`http://localhost${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    const text = await response.text();
    // any: tests read response bodies field by field, as tests/helpers/app.ts does.
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: response.status, headers: response.headers, json, text };
  }

  function count(sql: string, ...params: (string | number)[]): number {
    const row = database.sqlite.query(sql).get(...params) as { n: number } | null;
    return row?.n ?? 0;
  }

  return {
    app,
    database,
    sqlite: database.sqlite,
    clock,
    logs,
    config,
    quota,
    status,
    checker,
    outbox,
    tick,
    createPartner,
    call,
    count,
  };
}

export type FaultService = ReturnType<typeof faultService>;

/** The compiled executable, copied into a scratch folder of its own. */
export async function binaryWorkspace(label: string) {
  const built = await ensureBinary();
  const work = mkdtempSync(join(tmpdir(), `immigraflow-faults-${label}-`));
  mkdirSync(join(work, "bin"));
  const binary = copyBinaryTo(built, join(work, "bin"));
  return {
    work,
    binary,
    /** A fresh data folder; returns the database path inside it. */
    databasePath(name: string): string {
      const folder = join(work, name);
      mkdirSync(folder, { recursive: true });
      return join(folder, "immigraflow.db");
    },
  };
}

export async function createPartnerWithCli(
  binary: string,
  env: Record<string, string>,
): Promise<Partner> {
  const created = await runBinary(
    binary,
    ["partner", "create", "--name", "Fault Partner", "--email", "ops@faults.example", "--json"],
    { env },
  );
  if (created.code !== 0) throw new Error(`partner create failed: ${created.stderr}`);
  return JSON.parse(created.stdout.trim().split("\n").at(-1) ?? "") as Partner;
}

/** A partner-authenticated JSON request to a running binary. */
export async function partnerRequest(
  baseUrl: string,
  partner: Partner,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<{ status: number; json: unknown; text: string }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      "X-API-KEY": partner.api_key,
      "X-API-SECRET": partner.api_secret,
      ...(body !== undefined && { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: response.status, json, text };
}

/**
 * The database as a killed process left it, read from a copy of the file and its WAL, so the
 * file the next start opens stays exactly what the crash left.
 */
export function snapshotOf(dbPath: string, folder: string): Database {
  const copyFolder = mkdtempSync(join(folder, "snapshot-"));
  const copy = join(copyFolder, "copy.db");
  return new Database(copyWithWal(dbPath, copy));
}

/** Resolves with the error code of a fresh TCP connection attempt, or "connected". */
export function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}
