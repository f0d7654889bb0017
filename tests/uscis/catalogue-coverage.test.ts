import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CatalogueTitles, foldTitle, lookupStatus } from "../../src/uscis/catalogue.ts";
import {
  type DescriptionId,
  Descriptions,
  formatDate,
  translateDescriptionPt,
  writeDescription,
} from "../../src/uscis/descriptions.ts";
import { SeenTitles } from "./seen-titles.ts";

// The notes live beside the repository, not in it; CI has only this copy. When the notes are
// at hand, the test below proves the copy still matches them.
const NotesPath = join(import.meta.dir, "..", "..", "..", "shared", "uscis-torch-notes.md");

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
