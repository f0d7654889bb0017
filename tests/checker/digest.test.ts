import { describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { observationDigest } from "../../src/checker/observation.ts";
import { cases, users } from "../../src/db/schema.ts";
import { Hour, observation, setup, stubCatalogue } from "./fixtures.ts";

const Receipt = "IOE0912345678";
const Received = { date: "2026-03-01", description: "Received.", descriptionEs: "Recibido." };
const Biometrics = { date: "2026-04-02", description: "Fingerprints taken.", descriptionEs: null };

/** The stub catalogue, counting the translations that only a full comparison asks for. */
function countingCatalogue() {
  const counted = { translations: 0 };
  return {
    counted,
    catalogue: {
      ...stubCatalogue,
      translateDescriptionPt(text: string) {
        counted.translations += 1;
        return stubCatalogue.translateDescriptionPt(text);
      },
    },
  };
}

describe("observationDigest", () => {
  const Tagged = `<b>Receipt</b> ${Receipt}`;
  const base = observation(Receipt, { history: [Received] });

  test("markup, entities and spacing do not move it", () => {
    const reformatted = observation(Receipt, {
      statusTitle: " Case  Was Received",
      statusDescription: `On March&nbsp;1, 2026, we   received your Form I-130, ${Tagged}.`,
      history: [{ ...Received, description: "<p>Received.</p>" }],
    });
    expect(observationDigest(reformatted)).toBe(observationDigest(base));
  });

  test("anything else does", () => {
    const changes = [
      { statusTitle: "Case Was Approved" },
      { statusDescription: "Something else." },
      { statusTitleEs: null },
      { statusDescriptionEs: "Otra cosa." },
      { submittedAt: null },
      { modifiedAt: Date.UTC(2026, 3, 2) },
      { formType: "I-765" },
      { history: [Received, Biometrics] },
      { history: [] },
      { history: [{ ...Received, descriptionEs: null }] },
      { history: [{ ...Received, date: "2026-03-02" }] },
    ];
    const digests = changes.map((change) =>
      observationDigest(observation(Receipt, { history: [Received], ...change })),
    );
    expect(digests).not.toContain(observationDigest(base));
    expect(new Set(digests).size).toBe(changes.length);
  });
});

describe("a case whose last update covers the answer", () => {
  test("is not compared again when the same answer comes back", async () => {
    const { counted, catalogue } = countingCatalogue();
    const fx = setup({ catalogue });
    const kase = fx.addCase(Receipt);
    fx.uscis.found(Receipt, { history: [Received, Biometrics] });
    await fx.checker.tick();
    const digest = fx.receiptRow(Receipt).observationDigest;
    expect(fx.caseRow(kase.id).observedDigest).toBe(digest);

    const before = counted.translations;
    fx.clock.advance(7 * Hour);
    const summary = await fx.checker.tick();

    expect(summary).toMatchObject({ checked: 1, changed: 0, failed: 0 });
    expect(counted.translations).toBe(before);
    expect(fx.updatesOf(kase.id)).toHaveLength(1);
    // The check itself is still recorded.
    expect(fx.receiptRow(Receipt)).toMatchObject({
      lastCheckedAt: fx.clock.now(),
      observationDigest: digest,
    });
  });

  test("still learns of a thicker history after thinner and reformatted answers", async () => {
    const fx = setup();
    const kase = fx.addCase(Receipt);
    fx.uscis.found(Receipt, { history: [Received] });
    await fx.checker.tick();

    // Thinner: compared in full, nothing written, and the thinner answer is covered from now.
    fx.clock.advance(7 * Hour);
    fx.uscis.found(Receipt, { history: [] });
    expect((await fx.checker.tick()).changed).toBe(0);
    expect(fx.caseRow(kase.id).observedDigest).toBe(
      observationDigest(observation(Receipt, { history: [] })),
    );
    // The first answer again: its entry is known, so nothing is written either.
    fx.clock.advance(7 * Hour);
    fx.uscis.found(Receipt, { history: [Received] });
    expect((await fx.checker.tick()).changed).toBe(0);
    // Reformatted: the same digest, nothing to compare.
    fx.clock.advance(7 * Hour);
    fx.uscis.found(Receipt, { history: [{ ...Received, description: " <i>Received.</i>" }] });
    expect((await fx.checker.tick()).changed).toBe(0);

    fx.clock.advance(7 * Hour);
    fx.uscis.found(Receipt, { history: [Received, Biometrics] });
    const summary = await fx.checker.tick();

    expect(summary.changed).toBe(1);
    const rows = fx.updatesOf(kase.id);
    expect(rows.map((row) => row.detailMessage)).toEqual([
      'Now watching; current status "Case Was Received"',
      "Record updated: 1 new history entry",
    ]);
    expect(fx.caseRow(kase.id)).toMatchObject({
      lastStatusUpdateId: rows[1]!.id,
      observedDigest: fx.receiptRow(Receipt).observationDigest,
    });
  });

  test("a case that was away while the answer moved is compared when it is back", async () => {
    const fx = setup();
    const away = fx.addUser();
    const stayed = fx.addCase(Receipt);
    const returning = fx.addCase(Receipt, { userId: away.id });
    fx.uscis.found(Receipt);
    await fx.checker.tick();

    // Its user is disabled while USCIS approves the case; the receipt's digest moves on.
    fx.db.update(users).set({ status: "disabled" }).where(eq(users.id, away.id)).run();
    fx.clock.advance(7 * Hour);
    fx.uscis.found(Receipt, { statusTitle: "Case Was Approved" });
    await fx.checker.tick();
    expect(fx.updatesOf(stayed.id)).toHaveLength(2);
    expect(fx.updatesOf(returning.id)).toHaveLength(1);

    // Back, with nothing else touching the receipt: the same answer is news to this case only.
    fx.db.update(users).set({ status: "active" }).where(eq(users.id, away.id)).run();
    fx.clock.advance(7 * Hour);
    const summary = await fx.checker.tick();

    expect(summary.changed).toBe(1);
    expect(fx.updatesOf(stayed.id)).toHaveLength(2);
    expect(fx.updatesOf(returning.id).map((row) => row.kind)).toEqual([
      "initial",
      "status_changed",
    ]);
  });

  test("rows from before digests are compared once, then covered", async () => {
    const { counted, catalogue } = countingCatalogue();
    const fx = setup({ catalogue });
    const kase = fx.addCase(Receipt);
    fx.uscis.found(Receipt, { history: [Received] });
    await fx.checker.tick();
    // What migration 0001 leaves: updates, no digests.
    fx.db.update(cases).set({ observedDigest: null }).run();
    fx.setReceipt(Receipt, { observationDigest: null });

    fx.clock.advance(7 * Hour);
    const before = counted.translations;
    expect((await fx.checker.tick()).changed).toBe(0);
    expect(counted.translations).toBeGreaterThan(before);
    expect(fx.caseRow(kase.id).observedDigest).toBe(fx.receiptRow(Receipt).observationDigest);

    fx.clock.advance(7 * Hour);
    const compared = counted.translations;
    expect((await fx.checker.tick()).changed).toBe(0);
    expect(counted.translations).toBe(compared);
    expect(fx.updatesOf(kase.id)).toHaveLength(1);
  });

  test("a failed check leaves the digests alone", async () => {
    const fx = setup();
    const kase = fx.addCase(Receipt);
    fx.uscis.found(Receipt);
    await fx.checker.tick();
    const digest = fx.caseRow(kase.id).observedDigest;

    fx.clock.advance(7 * Hour);
    fx.uscis.answer(Receipt, { kind: "unavailable", reason: "timeout" });
    await fx.checker.tick();
    fx.clock.advance(7 * Hour);
    fx.uscis.answer(Receipt, { kind: "not_found" });
    await fx.checker.tick();

    expect(fx.caseRow(kase.id).observedDigest).toBe(digest);
    expect(fx.receiptRow(Receipt).observationDigest).toBe(digest);
    fx.clock.advance(7 * Hour);
    fx.uscis.found(Receipt);
    expect(await fx.checker.tick()).toMatchObject({ changed: 0, failed: 0 });
    expect(fx.caseRow(kase.id).checkError).toBeNull();
  });
});

test("the plan is told each case's own number of updates", async () => {
  const counts: [number, number][] = [];
  const fx = setup({
    planNotifications: (_tx, { case: kase, updateCount }) => {
      counts.push([kase.id, updateCount]);
      return {
        notified: 0,
        emailNotifyStatus: "skipped",
        whatsappNotifyStatus: "skipped",
        emailNotifyLastError: "test",
        whatsappNotifyLastError: "test",
      };
    },
  });
  const busy = fx.addCase("EAC2690000001");
  const quiet = fx.addCase("EAC2690000002");
  fx.uscis.found("EAC2690000001");
  fx.uscis.found("EAC2690000002");
  await fx.checker.tick();
  for (const title of ["Case Was Approved", "Case Was Received", "Case Was Approved"]) {
    fx.clock.advance(7 * Hour);
    fx.uscis.found("EAC2690000001", { statusTitle: title });
    await fx.checker.tick();
  }
  fx.clock.advance(7 * Hour);
  fx.uscis.found("EAC2690000002", { statusTitle: "Case Was Approved" });
  await fx.checker.tick();

  expect(counts).toEqual([
    [busy.id, 1],
    [quiet.id, 1],
    [busy.id, 2],
    [busy.id, 3],
    [busy.id, 4],
    [quiet.id, 2],
  ]);
});

test("an answer that cannot be digested fails alone and stays due", async () => {
  const fx = setup();
  const [bad, good] = ["EAC2690000001", "EAC2690000002"];
  const badCase = fx.addCase(bad);
  const goodCase = fx.addCase(good);
  const malformed = observation(bad, { history: null as unknown as [] });
  fx.uscis.answer(bad, { kind: "found", observation: malformed });
  fx.uscis.found(good);

  const summary = await fx.checker.tick();

  expect(summary).toMatchObject({ checked: 2, changed: 1, failed: 1 });
  expect(fx.updatesOf(goodCase.id)).toHaveLength(1);
  expect(fx.updatesOf(badCase.id)).toHaveLength(0);
  expect(fx.receiptRow(bad)).toMatchObject({ priority: true, lastCheckedAt: null });
});
