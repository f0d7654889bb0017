import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { CatalogueTitles, foldTitle, lookupStatus } from "../../src/uscis/catalogue.ts";
import {
  type DescriptionId,
  Descriptions,
  formatDate,
  translateDescriptionPt,
  writeDescription,
} from "../../src/uscis/descriptions.ts";

// The notes live beside the repository, not in it; CI has only this copy. When the notes are
// at hand, the test below proves the copy still matches them.
const NotesPath = "/work/shared/uscis-torch-notes.md";

// Every title of the notes' "Status titles seen on the live service" list, as written there,
// with "Sent (or Emailed)" spelled out as the two titles it stands for.
const SeenTitles = [
  "Case Was Received",
  "Case Was Received and A Receipt Notice Was Sent",
  "Case Was Received and A Receipt Notice Was Emailed",
  "Fingerprint Fee Was Received",
  "Fees Were Waived",
  "Case Was Reopened",
  "Duplicate Notice Was Mailed",
  "Name Was Updated",
  "Date of Birth Was Updated",
  "Expedite Request Received",
  "Expedite Request Denied",
  "Case Was Updated To Show Fingerprints Were Taken",
  "Fingerprint And Biometrics Appointment Was Scheduled",
  "Case Was Updated To Show That No One Appeared for In-Person Processing",
  "Case Is Being Actively Reviewed By USCIS",
  "Correspondence Was Received And USCIS Is Reviewing It",
  "Case Was Transferred And A New Office Has Jurisdiction",
  "Case Transferred To Another Office",
  "Request for Initial Evidence Was Sent",
  "Request for Additional Evidence Was Sent",
  "Response To USCIS' Request For Evidence Was Received",
  "Request For Evidence Was Received",
  "Notice Of Intent To Deny Was Sent",
  "Ready to Be Scheduled for An Interview",
  "Interview Was Scheduled",
  "Interview Was Rescheduled",
  "Request To Reschedule My Appointment Was Received",
  "Interview Was Completed And My Case Must Be Reviewed",
  "Interview Cancelled And Notice Ordered",
  "Case Was Approved",
  "Case Approval Was Affirmed",
  "Case Was Approved And My Decision Was Emailed",
  "Case Was Approved And A Decision Notice Was Sent",
  "Case Was Approved And USCIS Notified The U.S. Consulate or Port of Entry",
  "Case Approval Was Certified By USCIS",
  "Case Approval Was Reaffirmed And Mailed Back To Department Of State",
  "Request For A Duplicate Card Was Approved",
  "New Card Is Being Produced",
  "Permanent Resident Card Is Being Produced",
  "Card Was Mailed To Me",
  "Card Was Picked Up By The United States Postal Service",
  "Card Was Delivered To Me By The Post Office",
  "Card Was Determined As Undeliverable By The Post Office",
  "Card Is Being Returned to USCIS by Post Office",
  "Card Was Returned To USCIS",
  "Document Was Mailed To Me",
  "Travel Document Was Mailed",
  "Advance Parole Document Was Produced",
  "Reentry Permit Was Produced",
  "Refugee Travel Document Was Produced",
  "Document Is Being Held For 180 Days",
  "Notice Was Returned To USCIS Because The Post Office Could Not Deliver It",
  "Case Was Denied",
  "Case Was Denied And My Decision Notice Mailed",
  "Denial Was Upheld by Court",
  "Case Rejected Because I Sent An Incorrect Fee",
  "Case Was Rejected Because I Did Not Sign My Form",
  "Case Was Rejected Because It Was Improperly Filed",
  "Petition/Application Was Rejected For Insufficient Funds",
  "Case Approval Was Revoked",
  "Revocation Notice Was Sent",
  "Withdrawal Acknowledgement Notice Was Sent",
  "Case Closed Benefit Received By Other Means",
  "Appeal Was Dismissed",
  "Appeal Was Approved",
  "Termination Notice Sent",
];

// The Spanish the notes confirm from the live service, English title first.
const ConfirmedSpanish: Record<string, string> = {
  "Case Was Approved": "Caso Fue Aprobado",
  "Card Was Delivered To Me By The Post Office":
    "Tarjeta Me Fue Entregada Por El Servicio Postal De EE.UU.",
};

/**
 * Reads the titles out of the notes' section: groups open with a label ("Received:",
 * "Cards and documents:"), titles are separated by semicolons, a group ends with a full stop.
 */
function parseSeenTitles(notes: string): string[] {
  const section = /## Status titles seen on the live service \(English\)\n([\s\S]*?)\n\n/.exec(
    notes,
  )?.[1];
  if (!section) throw new Error("the notes no longer have the titles section");
  const flat = section.replace(/\s+/g, " ").trim();
  const groups = flat.split(/(?:^|\.\s+)[A-Z][a-z]+(?: [a-z]+)*:\s+/).filter(Boolean);
  return groups.flatMap((group) =>
    group
      .replace(/\.$/, "")
      .split(";")
      .map((title) => title.trim())
      .flatMap((title) => {
        const alternative = /^(.*) (\w+) \(or (\w+)\)$/.exec(title);
        if (!alternative) return [title];
        const [, stem, first, second] = alternative;
        return [`${stem} ${first}`, `${stem} ${second}`];
      }),
  );
}

function parseConfirmedSpanish(notes: string): Record<string, string> {
  const sentence = /Confirmed Spanish:([^\n]*(?:\n(?!\n)[^\n]*)*)/.exec(notes)?.[1] ?? "";
  const flat = sentence.replace(/\s+/g, " ");
  return Object.fromEntries(
    [...flat.matchAll(/"([^"]+)" \(([^)]+)\)/g)].map(([, es, en]) => [en!, es!]),
  );
}

describe("the titles the notes list", () => {
  test.skipIf(!existsSync(NotesPath))("match this test's copy of them", () => {
    const notes = readFileSync(NotesPath, "utf8");

    expect(parseSeenTitles(notes)).toEqual(SeenTitles);
    expect(parseConfirmedSpanish(notes)).toEqual(ConfirmedSpanish);
  });

  test("are all distinct, so none hides another", () => {
    expect(new Set(SeenTitles.map(foldTitle)).size).toBe(SeenTitles.length);
  });

  for (const title of SeenTitles) {
    test(`"${title}" is catalogued with a category, Portuguese and Spanish`, () => {
      const entry = lookupStatus(title);

      expect(entry.known).toBe(true);
      expect(entry.category).not.toBe("unknown");
      expect(entry.titlePt?.trim()).toBeTruthy();
      expect(foldTitle(entry.titlePt ?? "")).not.toBe(foldTitle(title));
      expect(entry.titleEs?.trim()).toBeTruthy();
      expect(foldTitle(entry.titleEs ?? "")).not.toBe(foldTitle(title));
    });
  }

  test("are found however USCIS capitalises or punctuates them", () => {
    for (const title of SeenTitles) {
      expect(lookupStatus(title.toUpperCase()).known).toBe(true);
      expect(lookupStatus(`${title.toLowerCase().replaceAll("'", "’")}.`).known).toBe(true);
    }
  });

  test("the confirmed Spanish is USCIS's own wording, and only it is marked confirmed", () => {
    const confirmed = CatalogueTitles.filter((entry) => entry.esConfirmed);

    expect(Object.fromEntries(confirmed.map((entry) => [entry.titleEn, entry.titleEs]))).toEqual(
      ConfirmedSpanish,
    );
  });
});

describe("description templates in Portuguese", () => {
  const facts = { date: "2026-05-04", form: "I-765", receipt: "EAC9999103403" };

  // Only sentences that name all three slots; "cardOrderedNoForm" and boilerplate name fewer.
  const dated = (Object.keys(Descriptions) as DescriptionId[]).filter((id) => {
    const english = Descriptions[id].en[0] ?? "";
    return ["{date}", "{form}", "{receipt}"].every((slot) => english.includes(slot));
  });

  test("there are templates to check", () => {
    expect(dated.length).toBeGreaterThanOrEqual(20);
  });

  for (const id of dated) {
    test(`"${id}" carries the date, form and receipt into Portuguese`, () => {
      const english = writeDescription([id], "en", facts);
      const portuguese = translateDescriptionPt(english);

      expect(portuguese).not.toBeNull();
      expect(portuguese).not.toBe(english);
      expect(portuguese).toContain(formatDate(facts.date, "pt"));
      expect(portuguese).toContain(`Formulário ${facts.form}`);
      expect(portuguese).toContain(facts.receipt);
      expect(portuguese).not.toContain("May 4, 2026");
    });
  }

  test("a long form name with commas is carried over whole", () => {
    const english =
      "On May 4, 2026, we approved your Form I-360, Petition for Amerasian, Widow(er), or " +
      "Special Immigrant, Receipt Number EAC9999103403.";

    expect(translateDescriptionPt(english)).toBe(
      "Em 4 de maio de 2026, aprovamos seu Formulário I-360, Petition for Amerasian, " +
        "Widow(er), or Special Immigrant, número de recibo EAC9999103403.",
    );
  });

  test("the first of the month reads as Brazilians write it", () => {
    const english = writeDescription(["approved"], "en", { ...facts, date: "2026-05-01" });

    expect(translateDescriptionPt(english)).toContain("Em 1º de maio de 2026");
  });
});
