import { describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { observationDigest } from "../../src/checker/observation.ts";
import { cases } from "../../src/db/schema.ts";
import { Hour, observation, setup } from "./fixtures.ts";

const Receipt = "IOE0912345678";

/** Advances past the next regular check so the receipt is due again. */
function nextCycle(fx: ReturnType<typeof setup>) {
  fx.clock.advance(7 * Hour);
}

describe("first observation", () => {
  test("writes an initial row in three languages and clears check_error", async () => {
    const fx = setup();
    const kase = fx.addCase(Receipt);
    fx.db.update(cases).set({ checkError: "not_found" }).run();
    const answer = {
      history: [
        {
          date: "2026-03-01",
          description: "On March 1, 2026, we received it.",
          descriptionEs: null,
        },
      ],
    };
    fx.uscis.found(Receipt, answer);

    const summary = await fx.checker.tick();

    const [update, ...rest] = fx.updatesOf(kase.id);
    expect(rest).toHaveLength(0);
    expect(update).toMatchObject({
      kind: "initial",
      category: "received",
      statusCode: "Case Was Received",
      statusCodeEs: "Caso Fue Recibido",
      statusCodePt: "Caso recebido",
      formType: "I-130",
      detailMessage: 'Now watching; current status "Case Was Received"',
      submittedDate: Date.UTC(2026, 2, 1, 14, 0, 0),
      timestamp: fx.clock.now(),
    });
    expect(update?.statusDescriptionPt).toStartWith("PT: On March 1, 2026");
    expect(update?.history).toEqual([
      {
        date: "2026-03-01",
        description: "On March 1, 2026, we received it.",
        description_es: null,
        description_pt: "PT: On March 1, 2026, we received it.",
      },
    ]);
    expect(summary).toMatchObject({ checked: 1, changed: 1, failed: 0, rateLimited: false });

    const after = fx.caseRow(kase.id);
    expect(after.checkError).toBeNull();
    expect(after.lastStatusUpdateId).toBe(update!.id);
    const receipt = fx.receiptRow(Receipt);
    expect(receipt.lastCheckedAt).toBe(fx.clock.now());
    expect(receipt.priority).toBe(false);
    expect(receipt.observationDigest).toBe(observationDigest(observation(Receipt, answer)));
    expect(after.observedDigest).toBe(receipt.observationDigest);
  });

  test("keeps the English where no Portuguese is known; unknown titles stay", async () => {
    const fx = setup();
    const kase = fx.addCase(Receipt);
    fx.uscis.found(Receipt, {
      statusTitle: "Some New Title",
      statusDescription: "We did a thing.",
    });

    await fx.checker.tick();

    expect(fx.updatesOf(kase.id)[0]).toMatchObject({
      category: "unknown",
      statusCode: "Some New Title",
      statusCodePt: "Some New Title",
      statusDescriptionPt: "We did a thing.",
    });
  });

  test("marks notifications skipped with the reason until senders exist", async () => {
    const fx = setup();
    const optedOut = fx.addUser({ notifyByEmail: false, notifyByWhatsapp: false });
    const unverified = fx.addUser({ notifyByWhatsapp: true, phone: null });
    const ready = fx.addUser({
      emailVerifiedAt: 1,
      notifyByWhatsapp: true,
      phone: "+5511999990000",
    });
    const watching = [optedOut, unverified, ready].map((user) =>
      fx.addCase(Receipt, { userId: user.id }),
    );
    fx.uscis.found(Receipt);

    await fx.checker.tick();

    const rows = watching.map((kase) => fx.updatesOf(kase.id)[0]);
    expect(rows.map((row) => [row?.emailNotifyLastError, row?.whatsappNotifyLastError])).toEqual([
      ["not opted in", "not opted in"],
      ["e-mail not verified", "no phone"],
      ["no provider configured", "no provider configured"],
    ]);
    for (const row of rows) {
      expect(row).toMatchObject({
        emailNotifyStatus: "skipped",
        whatsappNotifyStatus: "skipped",
        notified: 0,
      });
    }
  });

  test("asks the notification plan inside the transaction, with the inserted row", async () => {
    const seen: number[] = [];
    const fx = setup({
      planNotifications: (_tx, { statusUpdate, user }) => {
        seen.push(statusUpdate.id);
        return {
          notified: 0,
          emailNotifyStatus: "pending",
          whatsappNotifyStatus: "skipped",
          emailNotifyLastError: null,
          whatsappNotifyLastError: `user ${user.id}`,
        };
      },
    });
    const kase = fx.addCase(Receipt);
    fx.uscis.found(Receipt);

    await fx.checker.tick();

    const [row] = fx.updatesOf(kase.id);
    expect(seen).toEqual([row!.id]);
    expect(row).toMatchObject({ emailNotifyStatus: "pending", whatsappNotifyStatus: "skipped" });
  });
});

describe("later observations", () => {
  test("write nothing when only whitespace, case of the title or HTML differ", async () => {
    const fx = setup();
    const kase = fx.addCase(Receipt);
    const description = "On March 1, 2026, we received your Form I-130. Visit our website.";
    fx.uscis.found(Receipt, { statusDescription: description });
    await fx.checker.tick();

    nextCycle(fx);
    fx.uscis.found(Receipt, {
      statusTitle: "  case was   RECEIVED ",
      statusDescription:
        "On March&nbsp;1, 2026, we   received your Form I-130.\n" +
        'Visit <a href="https://www.uscis.gov">our website</a>.',
    });
    const summary = await fx.checker.tick();

    expect(summary).toMatchObject({ checked: 1, changed: 0 });
    expect(fx.updatesOf(kase.id)).toHaveLength(1);
  });

  test("write nothing when the same answer comes back", async () => {
    const fx = setup();
    const kase = fx.addCase(Receipt);
    fx.uscis.found(Receipt);
    await fx.checker.tick();
    nextCycle(fx);

    const summary = await fx.checker.tick();

    expect(summary).toMatchObject({ checked: 1, changed: 0 });
    expect(fx.updatesOf(kase.id)).toHaveLength(1);
    expect(fx.uscis.calls).toEqual([Receipt, Receipt]);
  });

  test("write status_changed when the title changes", async () => {
    const fx = setup();
    const kase = fx.addCase(Receipt);
    fx.uscis.found(Receipt);
    await fx.checker.tick();
    nextCycle(fx);

    fx.uscis.found(Receipt, {
      statusTitle: "Case Was Approved",
      statusDescription: "On May 4, 2026, we approved your Form I-130.",
    });
    await fx.checker.tick();

    const rows = fx.updatesOf(kase.id);
    expect(rows.map((row) => row.kind)).toEqual(["initial", "status_changed"]);
    expect(rows[1]).toMatchObject({
      category: "approved",
      statusCodePt: "Caso aprovado",
      detailMessage: 'Status changed from "Case Was Received" to "Case Was Approved"',
    });
    expect(fx.caseRow(kase.id).lastStatusUpdateId).toBe(rows[1]!.id);
  });

  test("write record_updated naming what moved when dates, history or text change", async () => {
    const fx = setup();
    const kase = fx.addCase(Receipt);
    fx.uscis.found(Receipt);
    await fx.checker.tick();

    nextCycle(fx);
    fx.uscis.found(Receipt, { modifiedAt: Date.UTC(2026, 3, 2, 15, 0, 0) });
    await fx.checker.tick();
    nextCycle(fx);
    fx.uscis.found(Receipt, {
      modifiedAt: Date.UTC(2026, 3, 2, 15, 0, 0),
      history: [{ date: "2026-04-02", description: "Fingerprints taken.", descriptionEs: null }],
    });
    await fx.checker.tick();
    nextCycle(fx);
    fx.uscis.found(Receipt, {
      modifiedAt: Date.UTC(2026, 3, 2, 15, 0, 0),
      statusDescription: "On March 1, 2026, we received your Form I-130 and sent a notice.",
    });
    await fx.checker.tick();

    const rows = fx.updatesOf(kase.id);
    expect(rows.map((row) => [row.kind, row.detailMessage])).toEqual([
      ["initial", 'Now watching; current status "Case Was Received"'],
      ["record_updated", "Record updated: modified date changed"],
      ["record_updated", "Record updated: 1 new history entry"],
      ["record_updated", "Record updated: description changed"],
    ]);
    expect(rows[1]?.modifiedDate).toBe(Date.UTC(2026, 3, 2, 15, 0, 0));
  });

  test("keep the last form_type and dates when USCIS leaves them out", async () => {
    const fx = setup();
    const kase = fx.addCase(Receipt);
    fx.uscis.found(Receipt, { formType: "I-765" });
    await fx.checker.tick();

    nextCycle(fx);
    fx.uscis.found(Receipt, { formType: null, modifiedAt: null, statusTitle: "Case Was Approved" });
    await fx.checker.tick();
    nextCycle(fx);
    fx.uscis.found(Receipt, { formType: null, modifiedAt: null, statusTitle: "Case Was Approved" });
    const summary = await fx.checker.tick();

    const rows = fx.updatesOf(kase.id);
    expect(rows.map((row) => row.kind)).toEqual(["initial", "status_changed"]);
    expect(rows[1]).toMatchObject({
      formType: "I-765",
      modifiedDate: Date.UTC(2026, 2, 1, 14, 0, 0),
    });
    expect(summary.changed).toBe(0);
    expect(fx.receiptRow(Receipt).formType).toBe("I-765");
  });

  test("never shrink the history and keep it oldest first", async () => {
    const fx = setup();
    const kase = fx.addCase(Receipt);
    const received = { date: "2026-03-01", description: "Received.", descriptionEs: "Recibido." };
    const biometrics = {
      date: "2026-04-02",
      description: "Fingerprints taken.",
      descriptionEs: null,
    };
    fx.uscis.found(Receipt, { history: [biometrics, received] });
    await fx.checker.tick();

    nextCycle(fx);
    fx.uscis.found(Receipt, { history: [] });
    const thinner = await fx.checker.tick();
    nextCycle(fx);
    const interview = {
      date: "2026-03-20",
      description: "Interview <b>scheduled</b>.",
      descriptionEs: null,
    };
    fx.uscis.found(Receipt, { history: [{ ...received, description: " Received. " }, interview] });
    await fx.checker.tick();

    expect(thinner.changed).toBe(0);
    const rows = fx.updatesOf(kase.id);
    expect(rows).toHaveLength(2);
    const history = rows[1]!.history as { date: string; description: string }[];
    expect(history.map((entry) => [entry.date, entry.description])).toEqual([
      ["2026-03-01", "Received."],
      ["2026-03-20", "Interview scheduled."],
      ["2026-04-02", "Fingerprints taken."],
    ]);
    expect(rows[1]!.detailMessage).toBe("Record updated: 1 new history entry");
    expect(history[0]).toMatchObject({ description_es: "Recibido." });
  });

  test("compare each case with its own last update", async () => {
    const fx = setup();
    const early = fx.addCase(Receipt);
    fx.uscis.found(Receipt);
    await fx.checker.tick();

    const late = fx.addCase(Receipt);
    fx.uscis.found(Receipt, { statusTitle: "Case Was Approved" });
    await fx.checker.tick();

    expect(fx.updatesOf(early.id).map((row) => row.kind)).toEqual(["initial", "status_changed"]);
    expect(fx.updatesOf(late.id).map((row) => [row.kind, row.detailMessage])).toEqual([
      ["initial", 'Now watching; current status "Case Was Approved"'],
    ]);
  });
});

test("in one batch, each receipt's cases are compared with their own last updates", async () => {
  const fx = setup();
  const [a, b, c] = ["EAC2690000001", "EAC2690000002", "EAC2690000003"];
  const a1 = fx.addCase(a);
  const b1 = fx.addCase(b);
  for (const receipt of [a, b]) fx.uscis.found(receipt);
  await fx.checker.tick();
  fx.db.update(cases).set({ checkError: "not_found" }).where(eq(cases.id, a1.id)).run();

  // One tick, one batch: A moves and gained a case, B says the same again, C is new.
  const a2 = fx.addCase(a);
  const c1 = fx.addCase(c);
  const c2 = fx.addCase(c, { active: false });
  fx.clock.advance(7 * Hour);
  fx.uscis.found(a, { statusTitle: "Case Was Approved" });
  fx.uscis.found(c);
  const summary = await fx.checker.tick();

  expect(summary).toMatchObject({ checked: 3, changed: 3, failed: 0 });
  expect(fx.updatesOf(a1.id).map((row) => row.kind)).toEqual(["initial", "status_changed"]);
  expect(fx.updatesOf(a2.id).map((row) => row.kind)).toEqual(["initial"]);
  expect(fx.updatesOf(b1.id).map((row) => row.kind)).toEqual(["initial"]);
  expect(fx.updatesOf(c1.id).map((row) => row.statusCode)).toEqual(["Case Was Received"]);
  expect(fx.updatesOf(c2.id)).toEqual([]);
  for (const kase of [a1, a2, b1, c1]) {
    expect(fx.caseRow(kase.id).lastStatusUpdateId).toBe(fx.updatesOf(kase.id).at(-1)!.id);
  }
  expect(fx.caseRow(a1.id).checkError).toBeNull();
});

test("the real catalogue is used when none is given", async () => {
  const fx = setup({ catalogue: undefined });
  const kase = fx.addCase(Receipt);
  fx.uscis.found(Receipt, { statusTitle: "Zzz Not A USCIS Title", statusDescription: "Zzz." });

  await fx.checker.tick();

  expect(fx.updatesOf(kase.id)[0]).toMatchObject({
    category: "unknown",
    statusCodePt: "Zzz Not A USCIS Title",
    statusDescriptionPt: "Zzz.",
  });
});
