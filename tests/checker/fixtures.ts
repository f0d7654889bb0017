import { asc, eq } from "drizzle-orm";
import {
  type CheckerOptions,
  createChecker,
  type StatusCatalogue,
} from "../../src/checker/checker.ts";
import { watchReceipt } from "../../src/checker/receipts.queries.ts";
import { manualClock } from "../../src/clock.ts";
import { migrate, openDatabase } from "../../src/db/connection.ts";
import { cases, clients, receipts, statusUpdates, users } from "../../src/db/schema.ts";
import { createLogger, memoryDestination } from "../../src/logger.ts";
import type { Category } from "../../src/uscis/catalogue.ts";
import type { CaseStatusSource, Observation, SourceResult } from "../../src/uscis/types.ts";

export const Minute = 60_000;
export const Hour = 60 * Minute;

/**
 * Stands in for USCIS: answers what the test scripted for each receipt (404 otherwise) and
 * records every call. An answer may be a function, to hold a call open or to throw.
 */
export function scriptedUscis() {
  const answers = new Map<string, SourceResult | (() => Promise<SourceResult>)>();
  const calls: string[] = [];
  const source: CaseStatusSource = {
    name: "simulator",
    async fetch(receiptNumber) {
      calls.push(receiptNumber);
      const answer = answers.get(receiptNumber);
      if (typeof answer === "function") return answer();
      return answer ?? { kind: "not_found" };
    },
  };
  return {
    source,
    calls,
    answer(receiptNumber: string, result: SourceResult) {
      answers.set(receiptNumber, result);
    },
    answerWith(receiptNumber: string, result: () => Promise<SourceResult>) {
      answers.set(receiptNumber, result);
    },
    found(receiptNumber: string, overrides: Partial<Observation> = {}) {
      answers.set(receiptNumber, {
        kind: "found",
        observation: observation(receiptNumber, overrides),
      });
    },
  };
}

export function observation(
  receiptNumber: string,
  overrides: Partial<Observation> = {},
): Observation {
  return {
    receiptNumber,
    formType: "I-130",
    statusTitle: "Case Was Received",
    statusDescription: `On March 1, 2026, we received your Form I-130, Receipt ${receiptNumber}.`,
    statusTitleEs: "Caso Fue Recibido",
    statusDescriptionEs: null,
    submittedAt: Date.UTC(2026, 2, 1, 14, 0, 0),
    modifiedAt: Date.UTC(2026, 2, 1, 14, 0, 0),
    history: [],
    ...overrides,
  };
}

const StubTitles: Record<string, { category: Category; titlePt: string }> = {
  "case was received": { category: "received", titlePt: "Caso recebido" },
  "case was approved": { category: "approved", titlePt: "Caso aprovado" },
  "card was delivered to me by the post office": {
    category: "card_delivered",
    titlePt: "Cartão entregue pelos Correios",
  },
};

/** A catalogue the tests control, so they do not depend on the real one's wording. */
export const stubCatalogue: StatusCatalogue = {
  lookupStatus(title) {
    const entry = StubTitles[title.toLowerCase()];
    return entry ? { ...entry, known: true } : { category: "unknown", titlePt: null, known: false };
  },
  translateDescriptionPt(descriptionEn) {
    return descriptionEn.startsWith("On ") ? `PT: ${descriptionEn}` : null;
  },
};

export function setup(options: Partial<CheckerOptions> = {}) {
  const handle = openDatabase(":memory:");
  migrate(handle);
  const db = handle.db;
  const clock = manualClock();
  const uscis = scriptedUscis();
  const log = memoryDestination();
  const logger = createLogger({ level: "debug", format: "json", destination: log.stream });
  const checker = createChecker({
    db,
    source: uscis.source,
    clock,
    logger,
    checkIntervalMinutes: 360,
    maxReceiptsPerTick: 50,
    catalogue: stubCatalogue,
    jitterRatio: 0,
    ...options,
  });
  let serial = 0;

  function addClient(values: { disabledAt?: number | null } = {}) {
    serial += 1;
    return db
      .insert(clients)
      .values({
        name: `Partner ${serial}`,
        contactEmail: `ops${serial}@partner.example`,
        apiKey: `ifk_test_${serial}`,
        secretHash: "hash",
        disabledAt: values.disabledAt ?? null,
        createdAt: clock.now(),
        updatedAt: clock.now(),
      })
      .returning()
      .get();
  }

  function addUser(values: Partial<typeof users.$inferInsert> = {}) {
    serial += 1;
    const clientId = values.clientId ?? addClient().id;
    return db
      .insert(users)
      .values({
        email: `person${serial}@example.com`,
        createdAt: clock.now(),
        updatedAt: clock.now(),
        ...values,
        clientId,
      })
      .returning()
      .get();
  }

  /** What the cases service does: watch the receipt, then insert the case, in one transaction. */
  function addCase(receiptNumber: string, values: { userId?: number; active?: boolean } = {}) {
    serial += 1;
    const userId = values.userId ?? addUser().id;
    return db.transaction((tx) => {
      watchReceipt(tx, receiptNumber, clock.now());
      return tx
        .insert(cases)
        .values({
          userId,
          receiptNumber,
          userCaseId: `FLOW${String(serial).padStart(7, "0")}`,
          active: values.active ?? true,
          createdAt: clock.now(),
          updatedAt: clock.now(),
        })
        .returning()
        .get();
    });
  }

  function updatesOf(caseId: number) {
    return db
      .select()
      .from(statusUpdates)
      .where(eq(statusUpdates.caseId, caseId))
      .orderBy(asc(statusUpdates.id))
      .all();
  }

  function caseRow(caseId: number) {
    return db.select().from(cases).where(eq(cases.id, caseId)).get()!;
  }

  function receiptRow(receiptNumber: string) {
    return db.select().from(receipts).where(eq(receipts.receiptNumber, receiptNumber)).get()!;
  }

  function setReceipt(receiptNumber: string, values: Partial<typeof receipts.$inferInsert>) {
    db.update(receipts).set(values).where(eq(receipts.receiptNumber, receiptNumber)).run();
  }

  return {
    db,
    sqlite: handle.sqlite,
    clock,
    uscis,
    log,
    checker,
    addClient,
    addUser,
    addCase,
    updatesOf,
    caseRow,
    receiptRow,
    setReceipt,
  };
}

export type Fixture = ReturnType<typeof setup>;
