import { describe, expect, test } from "bun:test";
import {
  cleanText,
  easternDay,
  formatEasternDateTime,
  normalizeFormType,
  parseEasternDateTime,
  parseHistoryDate,
  parseTorchBody,
  toTorchBody,
} from "../../src/uscis/torch-wire.ts";
import type { Observation } from "../../src/uscis/types.ts";

function parsed(body: unknown): Observation {
  const result = parseTorchBody(body);
  if (!result.ok) throw new Error(`expected a parse: ${result.reason}`);
  return result.observation;
}

const documented = {
  case_status: {
    receiptNumber: "EAC9999103403",
    formType: "I-130",
    submittedDate: "09-05-2023 14:28:46",
    modifiedDate: "09-05-2023 14:28:46",
    current_case_status_text_en: "Case Was Approved",
    current_case_status_desc_en: "On September 5, 2023, we approved your Form I-130, ...",
    current_case_status_text_es: "Caso Fue Aprobado",
    current_case_status_desc_es: "El 5 de septiembre de 2023, aprobamos ...",
    hist_case_status: [
      { date: "2023-09-05", completed_text_en: "Approved.", completed_text_es: "Aprobado." },
    ],
  },
  message: "Query was successful",
};

describe("parseTorchBody", () => {
  test("reads the documented answer", () => {
    expect(parsed(documented)).toEqual({
      receiptNumber: "EAC9999103403",
      formType: "I-130",
      statusTitle: "Case Was Approved",
      statusDescription: "On September 5, 2023, we approved your Form I-130, ...",
      statusTitleEs: "Caso Fue Aprobado",
      statusDescriptionEs: "El 5 de septiembre de 2023, aprobamos ...",
      // 14:28:46 EDT (UTC-4).
      submittedAt: Date.UTC(2023, 8, 5, 18, 28, 46),
      modifiedAt: Date.UTC(2023, 8, 5, 18, 28, 46),
      history: [{ date: "2023-09-05", description: "Approved.", descriptionEs: "Aprobado." }],
    });
  });

  test("needs only receiptNumber and the English title", () => {
    const observation = parsed({
      case_status: {
        receiptNumber: "IOE0912345678",
        current_case_status_text_en: "Case Was Received",
      },
    });
    expect(observation).toEqual({
      receiptNumber: "IOE0912345678",
      formType: null,
      statusTitle: "Case Was Received",
      statusDescription: "",
      statusTitleEs: null,
      statusDescriptionEs: null,
      submittedAt: null,
      modifiedAt: null,
      history: [],
    });
  });

  test.each([
    [{}],
    [null],
    ["text"],
    [[documented]],
    [{ case_status: null }],
    [{ case_status: { receiptNumber: "EAC9999103403" } }],
    [{ case_status: { current_case_status_text_en: "Case Was Approved" } }],
    [
      {
        case_status: { receiptNumber: "EAC9999103403", current_case_status_text_en: "  <b></b> " },
      },
    ],
    [
      {
        case_status: {
          receiptNumber: 9999103403,
          current_case_status_text_en: "Case Was Approved",
        },
      },
    ],
  ])("refuses %j", (body) => {
    expect(parseTorchBody(body).ok).toBe(false);
  });

  test.each([[null], [[]], [undefined], ["none"], [{}]])("history %j -> []", (history) => {
    const body = structuredClone(documented) as { case_status: Record<string, unknown> };
    if (history === undefined) delete body.case_status.hist_case_status;
    else body.case_status.hist_case_status = history;
    expect(parsed(body).history).toEqual([]);
  });

  test("history: both date shapes, sorted oldest first, unusable entries dropped", () => {
    const body = structuredClone(documented) as { case_status: Record<string, unknown> };
    body.case_status.hist_case_status = [
      { date: "2023-09-05", completed_text_en: "third" },
      { date: "03-14-2023 10:11:12", completed_text_en: "first", completed_text_es: "primero" },
      { date: "not a date", completed_text_en: "dropped" },
      { date: "2023-06-01", completed_text_en: "" },
      { date: "06-01-2023 23:59:59", completed_text_en: "second" },
      "junk",
    ];
    expect(parsed(body).history).toEqual([
      { date: "2023-03-14", description: "first", descriptionEs: "primero" },
      { date: "2023-06-01", description: "second", descriptionEs: null },
      { date: "2023-09-05", description: "third", descriptionEs: null },
    ]);
  });

  test("strips HTML and decodes entities in titles and descriptions", () => {
    const body = structuredClone(documented) as { case_status: Record<string, unknown> };
    body.case_status.current_case_status_text_en = " Case Was <b>Approved</b> ";
    body.case_status.current_case_status_desc_en =
      'On May 4, 2026, we approved it. Visit <a href="https://www.uscis.gov">uscis.gov</a>.\n' +
      "   USCIS&#39; &quot;notice&quot; &amp; more&nbsp;text &#x2014; &rsquo;&eacute;&lt;b&gt;";
    body.case_status.current_case_status_text_es = "Caso&nbsp;Fue&nbsp;Aprobado";
    const observation = parsed(body);
    expect(observation.statusTitle).toBe("Case Was Approved");
    expect(observation.statusDescription).toBe(
      'On May 4, 2026, we approved it. Visit uscis.gov. USCIS\' "notice" & more text — ’é<b>',
    );
    expect(observation.statusTitleEs).toBe("Caso Fue Aprobado");
  });

  test("formType N400 -> N-400, I130 -> I-130", () => {
    const body = structuredClone(documented) as { case_status: Record<string, unknown> };
    body.case_status.formType = "N400";
    expect(parsed(body).formType).toBe("N-400");
  });

  test("receipt numbers keep their leading zeros", () => {
    const observation = parsed({
      case_status: {
        receiptNumber: "ioe0012345678",
        current_case_status_text_en: "Case Was Received",
      },
    });
    expect(observation.receiptNumber).toBe("IOE0012345678");
  });
});

describe("normalizeFormType", () => {
  test.each([
    ["I-130", "I-130"],
    ["I130", "I-130"],
    ["N400", "N-400"],
    ["i-765", "I-765"],
    ["I129F", "I-129F"],
    ["I-129F", "I-129F"],
    ["AR11", "AR-11"],
    ["I 485", "I-485"],
    ["Something else", "SOMETHING ELSE"],
    ["", null],
    [null, null],
    [130, null],
  ])("%p -> %p", (raw, expected) => {
    expect(normalizeFormType(raw)).toBe(expected);
  });
});

describe("cleanText", () => {
  test("removes scripts and comments with their content", () => {
    expect(cleanText("a<script>alert(1)</script>b<!-- hidden -->c")).toBe("a b c");
  });

  test("keeps unknown entities and replaces invalid code points", () => {
    expect(cleanText("&bogus; &#0; &#xD800; &#128512;")).toBe("&bogus; \uFFFD \uFFFD 😀");
  });
});

describe("US Eastern times", () => {
  test.each([
    // Daylight time, UTC-4.
    ["09-05-2023 14:28:46", Date.UTC(2023, 8, 5, 18, 28, 46)],
    // Standard time, UTC-5.
    ["01-15-2024 09:00:00", Date.UTC(2024, 0, 15, 14, 0, 0)],
    // The last second before the spring change, and the first after.
    ["03-10-2024 01:59:59", Date.UTC(2024, 2, 10, 6, 59, 59)],
    ["03-10-2024 03:00:00", Date.UTC(2024, 2, 10, 7, 0, 0)],
    // 02:30 never happened that night: read as 03:30 EDT.
    ["03-10-2024 02:30:00", Date.UTC(2024, 2, 10, 7, 30, 0)],
    // 01:30 happened twice in November: the first (EDT) one.
    ["11-03-2024 01:30:00", Date.UTC(2024, 10, 3, 5, 30, 0)],
    ["11-03-2024 02:00:00", Date.UTC(2024, 10, 3, 7, 0, 0)],
    ["12-31-2025 23:59:59", Date.UTC(2026, 0, 1, 4, 59, 59)],
    ["02-29-2024 12:00:00", Date.UTC(2024, 1, 29, 17, 0, 0)],
    ["05/04/2026 08:00:00", Date.UTC(2026, 4, 4, 12, 0, 0)],
    ["05-04-2026", Date.UTC(2026, 4, 4, 4, 0, 0)],
    ["2026-05-04 08:00:00", Date.UTC(2026, 4, 4, 12, 0, 0)],
  ])("%s -> UTC", (wall, utc) => {
    expect(parseEasternDateTime(wall)).toBe(utc);
  });

  test.each([
    ["02-30-2024 01:00:00"],
    ["13-01-2024 01:00:00"],
    ["01-01-2024 24:00:00"],
    ["yesterday"],
    [""],
    [null],
    [1693938526],
  ])("%p -> null", (raw) => {
    expect(parseEasternDateTime(raw)).toBeNull();
  });

  test("history dates keep the Eastern calendar day", () => {
    expect(parseHistoryDate("2023-09-05")).toBe("2023-09-05");
    expect(parseHistoryDate("09-05-2023 23:30:00")).toBe("2023-09-05");
    expect(parseHistoryDate("9-5-2023")).toBe("2023-09-05");
    expect(parseHistoryDate("2023-02-30")).toBeNull();
  });

  test("the Eastern day agrees with the time zone database, around every change", () => {
    const day = (utcMs: number) => formatEasternDateTime(utcMs).slice(0, 10);
    const asIso = (wall: string) => `${wall.slice(6, 10)}-${wall.slice(0, 2)}-${wall.slice(3, 5)}`;
    // Every 97 minutes for 30 years, so every change and every midnight is passed many ways.
    for (let at = Date.UTC(2008, 0, 1); at < Date.UTC(2038, 0, 1); at += 97 * 60_000) {
      if (easternDay(at) !== asIso(day(at))) expect([at, easternDay(at)]).toEqual([at, day(at)]);
    }
    // Midnight falls at 04:00 UTC in summer and 05:00 in winter.
    expect(easternDay(Date.UTC(2024, 6, 4, 3, 59))).toBe("2024-07-03");
    expect(easternDay(Date.UTC(2024, 6, 4, 4, 0))).toBe("2024-07-04");
    expect(easternDay(Date.UTC(2024, 0, 4, 4, 59))).toBe("2024-01-03");
    expect(easternDay(Date.UTC(2024, 0, 4, 5, 0))).toBe("2024-01-04");
    expect(easternDay(Date.UTC(2001, 0, 4, 5, 0))).toBe("2001-01-04");
  });

  test("formatting is the inverse, in both seasons", () => {
    for (const wall of ["09-05-2023 14:28:46", "01-15-2024 09:00:00", "11-03-2024 01:30:00"]) {
      expect(formatEasternDateTime(parseEasternDateTime(wall) ?? 0)).toBe(wall);
    }
  });
});

describe("toTorchBody", () => {
  test("round-trips an observation through the wire format", () => {
    const observation = parsed(documented);
    const body = JSON.parse(JSON.stringify(toTorchBody(observation)));
    expect(body.case_status.submittedDate).toBe("09-05-2023 14:28:46");
    expect(body.message).toBe("Query was successful");
    expect(parsed(body)).toEqual(observation);
  });

  test("leaves out what the observation does not know, as Torch does", () => {
    const observation: Observation = {
      receiptNumber: "IOE0912345678",
      formType: null,
      statusTitle: "Case Was Received",
      statusDescription: "On May 4, 2026, we received your Form I-765, ...",
      statusTitleEs: null,
      statusDescriptionEs: null,
      submittedAt: Date.UTC(2026, 4, 4, 12, 0, 0),
      modifiedAt: null,
      history: [],
    };
    const body = toTorchBody(observation);
    expect(body.case_status).toEqual({
      receiptNumber: "IOE0912345678",
      submittedDate: "05-04-2026 08:00:00",
      current_case_status_text_en: "Case Was Received",
      current_case_status_desc_en: "On May 4, 2026, we received your Form I-765, ...",
      hist_case_status: null,
    });
    expect(parsed(JSON.parse(JSON.stringify(body)))).toEqual(observation);
  });
});
