import { manualClock } from "../../src/clock.ts";
import { type DatabaseHandle, migrate, openDatabase } from "../../src/db/connection.ts";
import { createLogger, memoryDestination } from "../../src/logger.ts";
import { createSpacingLimiter } from "../../src/pacing/spacing-limiter.ts";
import { createQuota } from "../../src/uscis/quota.ts";
import { createTorchSource } from "../../src/uscis/torch-client.ts";
import type { Observation } from "../../src/uscis/types.ts";
import { startTorchFake, type TorchFakeOptions } from "../fakes/torch-fake.ts";

export const ClientId = "immigraflow-test-client";
export const ClientSecret = "s3cret-never-in-logs-4f9a";

export const Approved: Observation = {
  receiptNumber: "EAC9999103403",
  formType: "I-130",
  statusTitle: "Case Was Approved",
  statusDescription:
    "On September 5, 2023, we approved your Form I-130, Petition for Alien Relative, Receipt " +
    "Number EAC9999103403.",
  statusTitleEs: "Caso Fue Aprobado",
  statusDescriptionEs: "El 5 de septiembre de 2023, aprobamos su Formulario I-130.",
  submittedAt: Date.UTC(2023, 2, 14, 13, 2, 11),
  modifiedAt: Date.UTC(2023, 8, 5, 18, 28, 46),
  history: [
    {
      date: "2023-03-14",
      description: "On March 14, 2023, we received your Form I-130.",
      descriptionEs: null,
    },
  ],
};

export interface TorchSetupOptions {
  dailyLimit?: number;
  timeoutMs?: number;
  perSecond?: number;
  databasePath?: string;
  apiBaseUrl?: (fakeUrl: string) => string;
  fake?: TorchFakeOptions;
}

/**
 * The real Torch client against the real fake over HTTP, on a manual clock shared by the
 * client (token ages, quota day) and the fake (token expiry).
 */
export function torchSetup(options: TorchSetupOptions = {}) {
  const clock = manualClock();
  const fake = startTorchFake({
    clientId: ClientId,
    clientSecret: ClientSecret,
    clock,
    cases: { [Approved.receiptNumber]: Approved },
    ...options.fake,
  });
  const database: DatabaseHandle = openDatabase(options.databasePath ?? ":memory:");
  migrate(database);
  const quota = createQuota({
    db: database.db,
    source: "torch",
    dailyLimit: options.dailyLimit ?? 1000,
    clock,
  });
  const log = memoryDestination();
  const logger = createLogger({ level: "debug", format: "json", destination: log.stream });
  // Spacing is real time on the wire; a high rate keeps these tests fast.
  const limiter = createSpacingLimiter({ perSecond: options.perSecond ?? 1000 });
  const source = createTorchSource({
    apiBaseUrl: options.apiBaseUrl ? options.apiBaseUrl(fake.url) : fake.url,
    tokenUrl: fake.tokenUrl,
    clientId: ClientId,
    clientSecret: ClientSecret,
    limiter,
    quota,
    clock,
    logger,
    ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
  });

  return {
    clock,
    fake,
    database,
    quota,
    log,
    source,
    async close() {
      await fake.stop();
      database.close();
    },
  };
}

export type TorchSetup = ReturnType<typeof torchSetup>;
