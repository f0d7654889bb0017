import { describe, expect, test } from "bun:test";
import { manualClock } from "../../src/clock.ts";
import { Categories, lookupStatus, translateDescriptionPt } from "../../src/uscis/catalogue.ts";
import { createSimulatorSource, SandboxReceipts, simulateCase } from "../../src/uscis/simulator.ts";
import type { Observation, SourceResult } from "../../src/uscis/types.ts";

const Minute = 60_000;
const DemoUnit = 2 * Minute;

function found(result: SourceResult): Observation {
  if (result.kind !== "found") throw new Error(`expected a case, got ${result.kind}`);
  return result.observation;
}

/** Every distinct status a receipt shows over `minutes`, sampled each minute. */
function titlesOver(receipt: string, start: number, minutes: number, unitMs = DemoUnit) {
  const titles: string[] = [];
  for (let minute = 0; minute <= minutes; minute++) {
    const title = found(simulateCase(receipt, start + minute * Minute, unitMs)).statusTitle;
    if (titles.at(-1) !== title) titles.push(title);
  }
  return titles;
}

const Start = Date.UTC(2026, 4, 4, 12, 0, 0);
const SomeReceipts = Array.from({ length: 40 }, (_, i) => `EAC26${String(90012345 + i * 7919)}`);

describe("simulator: determinism", () => {
  test("the same receipt at the same time answers the same", () => {
    for (const receipt of ["IOE0912345678", "EAC2190012345", "MSC2390123456"]) {
      expect(simulateCase(receipt, Start, DemoUnit)).toEqual(
        simulateCase(receipt, Start, DemoUnit),
      );
    }
  });

  test("the source reads its clock", async () => {
    const clock = manualClock(Start);
    const source = createSimulatorSource({ clock, checkIntervalMinutes: 1 });
    expect(source.name).toBe("simulator");
    expect(await source.fetch("IOE0912345678")).toEqual(
      simulateCase("IOE0912345678", Start, DemoUnit),
    );
    clock.advance(17 * Minute);
    expect(await source.fetch("IOE0912345678")).toEqual(
      simulateCase("IOE0912345678", Start + 17 * Minute, DemoUnit),
    );
  });

  test("different receipts are at different steps", () => {
    const titles = new Set(
      SomeReceipts.map((r) => found(simulateCase(r, Start, DemoUnit)).statusTitle),
    );
    expect(titles.size).toBeGreaterThan(4);
  });
});

describe("simulator: stories", () => {
  test("with CHECK_INTERVAL_MINUTES=1 a case moves within minutes", () => {
    for (const receipt of SomeReceipts.slice(0, 10)) {
      expect(titlesOver(receipt, Start, 30).length).toBeGreaterThan(1);
    }
  });

  test("with the default interval a step lasts hours to days, not minutes", () => {
    const unit = 2 * 360 * Minute;
    const receipt = "EAC2190012345";
    expect(titlesOver(receipt, Start, 60, unit).length).toBeLessThanOrEqual(2);
    const overAMonth = new Set<string>();
    for (let hour = 0; hour < 30 * 24; hour += 6) {
      overAMonth.add(found(simulateCase(receipt, Start + hour * 60 * Minute, unit)).statusTitle);
    }
    expect(overAMonth.size).toBeGreaterThan(3);
  });

  test("a story starts at received and goes forward in a plausible order", () => {
    const order = [
      "received",
      "biometrics",
      "transferred",
      "in_review",
      "rfe",
      "rfe_response_received",
      "interview",
      "noid",
      "approved",
      "denied",
      "rejected",
      "card_production",
      "card_mailed",
      "card_delivered",
      "document_mailed",
    ];
    for (const receipt of SomeReceipts) {
      const titles = titlesOver(receipt, Start, 150);
      const firstReceived = titles.findIndex(
        (title) => lookupStatus(title).category === "received",
      );
      expect(firstReceived).toBeGreaterThanOrEqual(0);
      // From one "received" to the next (the loop), categories never go backwards.
      const story = titles.slice(firstReceived);
      const loop = story.slice(1).findIndex((title) => lookupStatus(title).category === "received");
      const oneRun = loop === -1 ? story : story.slice(0, loop + 1);
      const ranks = oneRun.map((title) => order.indexOf(lookupStatus(title).category));
      expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    }
  });

  test("across receipts the paths include RFEs, interviews, denials and delivered cards", () => {
    const seen = new Set<string>();
    for (const receipt of [...SomeReceipts, "MSC2390123456", "IOE0912345678", "NBC1234567891"]) {
      for (const title of titlesOver(receipt, Start, 150)) seen.add(lookupStatus(title).category);
    }
    for (const category of [
      "received",
      "biometrics",
      "in_review",
      "rfe",
      "rfe_response_received",
      "interview",
      "approved",
      "denied",
      "card_production",
      "card_mailed",
      "card_delivered",
    ]) {
      expect(seen).toContain(category);
    }
  });

  test("interviews only for I-485 and N-400", () => {
    for (const receipt of SomeReceipts) {
      for (let minute = 0; minute < 120; minute += 2) {
        const observation = found(simulateCase(receipt, Start + minute * Minute, DemoUnit));
        if (lookupStatus(observation.statusTitle).category === "interview") {
          expect(["I-485", "N-400"]).toContain(observation.formType ?? "");
        }
      }
    }
  });

  test("every title is in the catalogue, with Spanish and translatable descriptions", () => {
    for (const receipt of SomeReceipts.slice(0, 12)) {
      for (let minute = 0; minute < 120; minute += 4) {
        const observation = found(simulateCase(receipt, Start + minute * Minute, DemoUnit));
        const entry = lookupStatus(observation.statusTitle);
        expect(entry.known).toBe(true);
        expect(Categories).toContain(entry.category);
        expect(observation.statusTitleEs).toBe(entry.titleEs ?? null);
        expect(observation.statusDescriptionEs).toContain(receipt);
        const pt = translateDescriptionPt(observation.statusDescription);
        expect(pt).toContain(`número de recibo ${receipt}`);
        expect(pt).not.toMatch(/\b(January|May|September|If you move)\b/);
        for (const entry of observation.history) {
          expect(translateDescriptionPt(entry.description)).not.toBeNull();
        }
      }
    }
  });

  test("descriptions carry the date, form and receipt; history is oldest first", () => {
    const observation = found(simulateCase("MSC2390123456", Start + 90 * Minute, DemoUnit));
    expect(observation.formType).toMatch(/^[A-Z]-\d+/);
    expect(observation.statusDescription).toMatch(/^(On|As of) [A-Z][a-z]+ \d{1,2}, \d{4}, /);
    expect(observation.statusDescription).toContain(`Form ${observation.formType}, `);
    expect(observation.statusDescription).toContain(`Receipt Number MSC2390123456`);
    const dates = observation.history.map((entry) => entry.date);
    expect(dates).toEqual([...dates].sort());
    expect(observation.submittedAt).not.toBeNull();
    expect(observation.modifiedAt ?? 0).toBeGreaterThanOrEqual(observation.submittedAt ?? 0);
    expect(observation.modifiedAt ?? 0).toBeLessThanOrEqual(Start + 90 * Minute);
  });
});

describe("simulator: special receipts", () => {
  test("a receipt ending in 0000 is unknown", () => {
    expect(simulateCase("EAC1512340000", Start, DemoUnit)).toEqual({ kind: "not_found" });
    expect(simulateCase("IOE0000000000", Start, DemoUnit)).toEqual({ kind: "not_found" });
  });

  test("a malformed receipt is refused as Torch refuses it", () => {
    expect(simulateCase("EAC15123O5678", Start, DemoUnit).kind).toBe("invalid_receipt");
    expect(simulateCase("eac1512345678", Start, DemoUnit).kind).toBe("invalid_receipt");
  });

  test("the * form is a receipt like any other", () => {
    expect(simulateCase("EAC*123456789", Start, DemoUnit).kind).toBe("found");
  });

  test("EAC9999103403: I-130 Case Was Approved, with history", () => {
    const observation = found(simulateCase("EAC9999103403", Start, DemoUnit));
    expect(observation).toMatchObject({
      receiptNumber: "EAC9999103403",
      formType: "I-130",
      statusTitle: "Case Was Approved",
      statusTitleEs: "Caso Fue Aprobado",
      submittedAt: Date.UTC(2023, 8, 5, 18, 28, 46),
    });
    expect(observation.statusDescription).toStartWith(
      "On September 5, 2023, we approved your Form I-130, Petition for Alien Relative, " +
        "Receipt Number EAC9999103403.",
    );
    expect(observation.history.length).toBeGreaterThan(0);
  });

  test("EAC9999103402: I-130 Case Approval Was Affirmed, without history", () => {
    const observation = found(simulateCase("EAC9999103402", Start, DemoUnit));
    expect(observation).toMatchObject({
      formType: "I-130",
      statusTitle: "Case Approval Was Affirmed",
      history: [],
    });
  });

  test("staging receipts answer fixed data, with or without history as documented", () => {
    expect(SandboxReceipts.withHistory).toHaveLength(25);
    expect(SandboxReceipts.withoutHistory).toHaveLength(25);
    expect(SandboxReceipts.withHistory).toContain("SRC9999102783");
    expect(SandboxReceipts.withoutHistory).toContain("EAC9999103425");
    for (const receipt of SandboxReceipts.withHistory) {
      const now = found(simulateCase(receipt, Start, DemoUnit));
      expect(now.history.length).toBeGreaterThan(0);
      expect(found(simulateCase(receipt, Start + 400 * Minute, DemoUnit))).toEqual(now);
      expect(lookupStatus(now.statusTitle).known).toBe(true);
    }
    for (const receipt of SandboxReceipts.withoutHistory) {
      expect(found(simulateCase(receipt, Start, DemoUnit)).history).toEqual([]);
    }
  });
});
