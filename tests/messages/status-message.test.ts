import { beforeEach, describe, expect, test } from "bun:test";
import { createLogger, memoryDestination } from "../../src/logger.ts";
import type { Language } from "../../src/messages/language.ts";
import {
  dateFromDescription,
  pickLanguageText,
  type StatusMessageInput,
  statusEmail,
  statusWhatsApp,
  WhatsAppTemplateBodies,
  WhatsAppTextMax,
} from "../../src/messages/status-message.ts";
import { resetUnknownTitles } from "../../src/messages/unknown-titles.ts";
import {
  AllLanguages,
  ApprovedStatus,
  allParts,
  expectCleanUtf8,
  Receipt,
  statusInput,
  UnknownStatus,
} from "./fixtures.ts";

beforeEach(() => resetUnknownTitles());

// Words only the right language's text would hold, for the subject and the body.
const Expected: Record<
  Language,
  { title: string; changed: string; initial: string; body: string; date: string }
> = {
  en: {
    title: "Case Was Approved",
    changed: "was updated",
    initial: "Now watching",
    body: "What USCIS says",
    date: "May 4, 2026",
  },
  es: {
    title: "Caso Fue Aprobado",
    changed: "fue actualizado",
    initial: "Ahora seguimos",
    body: "Lo que dice USCIS",
    date: "4 de mayo de 2026",
  },
  pt: {
    title: "Caso aprovado",
    changed: "foi atualizado",
    initial: "Agora acompanhamos",
    body: "O que o USCIS diz",
    date: "4 de maio de 2026",
  },
};

describe("status e-mail in each language", () => {
  for (const language of AllLanguages) {
    const expected = Expected[language];

    test(`${language}: a status change names the case, the new status and USCIS's text`, () => {
      const email = statusEmail(statusInput({ language }));

      expect(email.subject).toBe(
        {
          en: `Your case ${Receipt} was updated: Case Was Approved`,
          es: `Su caso ${Receipt} fue actualizado: Caso Fue Aprobado`,
          pt: `Seu caso ${Receipt} foi atualizado: Caso aprovado`,
        }[language],
      );
      for (const part of [email.html, email.text]) {
        expect(part).toContain(expected.title);
        expect(part).toContain(expected.body);
        expect(part).toContain(Receipt);
        expect(part).toContain("I-765");
        expect(part).toContain(expected.date);
        expect(part).toContain("Acme Immigration Law");
      }
      expect(email.html).toContain("Ana&#39;s work permit");
      expect(email.text).toContain("Ana's work permit");
      expect(email.html).toContain('<img src="https://acme.example/logo.png"');
      expect(email.html).toContain('<meta charset="utf-8" />');
      expect(email.html).toMatch(new RegExp(`<html lang="${language}`));
    });

    test(`${language}: the first observation says the case is now watched`, () => {
      const email = statusEmail(statusInput({ language, kind: "initial" }));

      expect(email.subject).toStartWith(expected.initial);
      expect(email.subject).toContain(Receipt);
      expect(email.subject).toContain(expected.title);
      expect(email.text).toContain("Acme Immigration Law");
      expect(email.text).not.toContain(expected.changed);
    });

    test(`${language}: accents survive as UTF-8 in every part`, () => {
      const email = statusEmail(statusInput({ language }));
      const whatsapp = statusWhatsApp(statusInput({ language }));

      for (const part of [...allParts(email), ...allParts(whatsapp)]) expectCleanUtf8(part);
    });
  }

  test("Spanish and Portuguese carry their own accented letters", () => {
    const es = statusEmail(statusInput({ language: "es" }));
    const pt = statusEmail(statusInput({ language: "pt" }));

    expect(es.text).toContain("Número de recibo");
    expect(es.text).toContain("Autorización");
    expect(pt.text).toContain("Formulário");
    expect(pt.html).toContain("você");
  });

  test("Portuguese, being our translation, also quotes USCIS's English", () => {
    const email = statusEmail(statusInput({ language: "pt" }));

    expect(email.text).toContain("Esta tradução é informativa");
    expect(email.text).toContain(ApprovedStatus.description);
  });

  test("the plain-text part reads as text, without markup", () => {
    const email = statusEmail(statusInput());

    expect(email.text).not.toMatch(/<[a-z/!]/i);
    expect(email.text).not.toContain("&amp;");
    expect(email.text).toStartWith("Hello Ana Souza,\n");
  });

  test("with no logo the partner's name stands in its place", () => {
    const email = statusEmail(statusInput({ partner: { name: "Acme", logoUrl: null } }));

    expect(email.html).not.toContain("<img");
    expect(email.html).toContain("<strong");
    expect(email.html).toContain("Acme");
  });

  test("a logo address that is not a web address is not used", () => {
    const email = statusEmail(
      statusInput({ partner: { name: "Acme", logoUrl: "javascript:alert(1)" } }),
    );

    expect(email.html).not.toContain("javascript:");
  });
});

describe("escaping", () => {
  const hostile = statusInput({
    partner: { name: 'Smith & "Sons" <Law>', logoUrl: 'https://x.example/a.png?a=1&b="2"' },
    userName: "<b>Ana</b>",
    caseInfo: { receiptNumber: Receipt, description: "Tom & Jerry's <i>case</i>", formType: null },
    status: {
      ...ApprovedStatus,
      description: 'On May 4, 2026, we <script>alert("x")</script> approved it & more.',
      descriptionEs: 'El 4 de mayo de 2026, <script>alert("x")</script> y & más.',
      descriptionPt: 'Em 4 de maio de 2026, <script>alert("x")</script> & mais.',
    },
  });

  for (const language of AllLanguages) {
    test(`${language}: every text from outside is escaped in the HTML`, () => {
      const { html } = statusEmail({ ...hostile, language });

      expect(html).not.toContain("<script>");
      expect(html).not.toContain("<b>Ana");
      expect(html).not.toContain("<i>case");
      expect(html).not.toContain("<Law>");
      expect(html).toContain("Smith &amp; &quot;Sons&quot; &lt;Law&gt;");
      expect(html).toContain("Tom &amp; Jerry&#39;s &lt;i&gt;case&lt;/i&gt;");
      expect(html).toContain('src="https://x.example/a.png?a=1&amp;b=&quot;2&quot;"');
      expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    });
  }

  test("the plain text keeps the characters as they are", () => {
    const { text } = statusEmail(hostile);

    expect(text).toContain("Tom & Jerry's <i>case</i>");
    expect(text).toContain("approved it & more.");
  });

  test("a line break in a title never reaches the subject", () => {
    const { subject } = statusEmail(
      statusInput({ status: { ...UnknownStatus, code: "Case Was\r\nBcc: x@evil.example" } }),
    );

    expect(subject).not.toMatch(/[\r\n]/);
  });
});

describe("nothing internal leaks", () => {
  test("database ids passed along with the input never appear in a message", () => {
    const input = {
      ...statusInput(),
      id: 918273,
      userId: 5550123,
      clientId: 7777321,
      status: { ...ApprovedStatus, id: 4242424, statusUpdateId: 3131313 },
      caseInfo: { ...statusInput().caseInfo, id: 6060606 },
    } as StatusMessageInput;

    for (const language of AllLanguages) {
      const parts = [
        ...allParts(statusEmail({ ...input, language })),
        ...allParts(statusWhatsApp({ ...input, language })),
      ];
      for (const part of parts) {
        for (const id of ["918273", "5550123", "7777321", "4242424", "3131313", "6060606"]) {
          expect(part).not.toContain(id);
        }
        expect(part).not.toMatch(/\bundefined\b|\bnull\b|\[object/);
      }
    }
  });
});

describe("pickLanguageText", () => {
  test("English is USCIS's English", () => {
    expect(pickLanguageText("en", ApprovedStatus)).toEqual({
      title: "Case Was Approved",
      description: ApprovedStatus.description,
      fallbackToEnglish: false,
    });
  });

  test("Spanish is USCIS's own when it sent one", () => {
    expect(pickLanguageText("es", ApprovedStatus)).toEqual({
      title: "Caso Fue Aprobado",
      description: ApprovedStatus.descriptionEs!,
      fallbackToEnglish: false,
    });
  });

  test("USCIS's Spanish wins over the catalogue's, word for word", () => {
    const status = {
      ...ApprovedStatus,
      code: "Case Is Being Actively Reviewed By USCIS",
      codeEs: "Caso Está Siendo Revisado Activamente Por USCIS",
    };

    expect(pickLanguageText("es", status).title).toBe(
      "Caso Está Siendo Revisado Activamente Por USCIS",
    );
  });

  test("without USCIS's Spanish, the catalogue's title goes with the English text", () => {
    const status = {
      ...ApprovedStatus,
      code: "Case Is Being Actively Reviewed By USCIS",
      codeEs: null,
      descriptionEs: null,
    };

    expect(pickLanguageText("es", status)).toEqual({
      title: "Caso Está Siendo Revisado Activamente por USCIS",
      description: ApprovedStatus.description,
      fallbackToEnglish: true,
    });
  });

  test("blank Spanish counts as missing", () => {
    const picked = pickLanguageText("es", { ...ApprovedStatus, codeEs: " ", descriptionEs: "" });

    expect(picked.title).toBe("Caso Fue Aprobado");
    expect(picked.description).toBe(ApprovedStatus.description);
    expect(picked.fallbackToEnglish).toBe(true);
  });

  test("an unknown title without Spanish stays in English", () => {
    expect(pickLanguageText("es", UnknownStatus)).toEqual({
      title: UnknownStatus.code,
      description: UnknownStatus.description,
      fallbackToEnglish: true,
    });
  });

  test("Portuguese is ours, and flagged when it is still the English", () => {
    expect(pickLanguageText("pt", ApprovedStatus)).toEqual({
      title: "Caso aprovado",
      description: ApprovedStatus.descriptionPt,
      fallbackToEnglish: false,
    });
    expect(pickLanguageText("pt", UnknownStatus).fallbackToEnglish).toBe(true);
  });

  test("the fallback note is shown in the message", () => {
    const es = statusEmail(statusInput({ language: "es", status: UnknownStatus }));
    const pt = statusEmail(statusInput({ language: "pt", status: UnknownStatus }));

    expect(es.text).toContain("USCIS no publicó este texto en español");
    expect(es.text).toContain(UnknownStatus.description);
    expect(pt.text).toContain("Ainda não temos este texto em português");
    expect(pt.text).not.toContain("Esta tradução é informativa");
  });
});

describe("the date as USCIS gave it", () => {
  test("is read from the opening of a description in each language", () => {
    expect(dateFromDescription("On May 4, 2026, we approved it.")).toBe("May 4, 2026");
    expect(dateFromDescription("As of September 15, 2025, we are reviewing.")).toBe(
      "September 15, 2025",
    );
    expect(dateFromDescription("El 4 de mayo de 2026, aprobamos.")).toBe("4 de mayo de 2026");
    expect(dateFromDescription("Em 1º de maio de 2026, aprovamos.")).toBe("1º de maio de 2026");
    expect(dateFromDescription("We approved it on May 4, 2026.")).toBeNull();
  });

  test("is the row's date when the text has none", () => {
    const status = { ...UnknownStatus, date: "05-04-2026" };
    const email = statusEmail(statusInput({ status }));

    expect(email.text).toContain("Date (as USCIS gave it): 05-04-2026");
    expect(statusWhatsApp(statusInput({ status })).variables["4"]).toStartWith("05-04-2026: ");
  });

  test("is left out, label and all, when there is none", () => {
    const email = statusEmail(statusInput({ status: UnknownStatus }));

    expect(email.text).not.toContain("Date (as USCIS gave it)");
    expect(email.html).not.toContain("Date (as USCIS gave it)");
  });

  test("in Spanish and Portuguese, comes from the text in that language", () => {
    expect(statusEmail(statusInput({ language: "es" })).text).toContain(
      "Fecha (según USCIS): 4 de mayo de 2026",
    );
    expect(statusEmail(statusInput({ language: "pt" })).text).toContain(
      "Data (conforme o USCIS): 4 de maio de 2026",
    );
  });
});

describe("WhatsApp", () => {
  for (const language of AllLanguages) {
    test(`${language}: variables 1 to 4 are the partner, receipt, title and what happened`, () => {
      const { variables } = statusWhatsApp(statusInput({ language }));

      expect(Object.keys(variables).sort()).toEqual(["1", "2", "3", "4"]);
      expect(variables["1"]).toBe("Acme Immigration Law");
      expect(variables["2"]).toBe(Receipt);
      expect(variables["3"]).toBe(Expected[language].title);
      expect(variables["4"]).toContain(Expected[language].date);
    });

    test(`${language}: variables are never empty, even with nothing to say`, () => {
      const { variables } = statusWhatsApp(
        statusInput({
          language,
          partner: { name: "  ", logoUrl: null },
          caseInfo: { receiptNumber: Receipt, description: null, formType: null },
          status: {
            ...UnknownStatus,
            code: "",
            codePt: "",
            description: "",
            descriptionPt: "",
          },
        }),
      );

      for (const value of Object.values(variables)) {
        expect(value.trim()).not.toBe("");
      }
      expect(variables["1"]).toBe("-");
      expect(variables["4"]).toBe("-");
    });

    test(`${language}: a long description is cut to fit`, () => {
      const long = `On May 4, 2026, ${"we looked at your case again and ".repeat(200)}done.`;
      const status = { ...ApprovedStatus, description: long, descriptionEs: long };
      const message = statusWhatsApp(
        statusInput({ language, status: { ...status, descriptionPt: long } }),
      );

      expect(message.text.length).toBeLessThanOrEqual(WhatsAppTextMax);
      expect(message.text).toContain(Receipt);
      expect(message.text).toContain("…");
      for (const value of Object.values(message.variables)) {
        expect(value.length).toBeLessThanOrEqual(255);
        expect(value).not.toMatch(/[\n\t]| {5}/);
      }
    });

    test(`${language}: the free text names the partner, receipt, status and date`, () => {
      const { text } = statusWhatsApp(statusInput({ language }));

      expect(text).toContain("Acme Immigration Law");
      expect(text).toContain(Receipt);
      expect(text).toContain(Expected[language].title);
      expect(text).toContain(Expected[language].date);
      expect(text).toContain("Ana's work permit");
    });

    test(`${language}: the template body is one a WhatsApp review accepts`, () => {
      const body = WhatsAppTemplateBodies[language];
      const placeholders = [...body.matchAll(/\{\{(\d+)\}\}/g)].map((match) => match[1]);

      expect(placeholders).toEqual(["1", "2", "3", "4"]);
      expect(body).not.toMatch(/^\s*\{\{|\}\}[\s.!?]*$/);
      expect(body).not.toMatch(/\}\}\s*\{\{/);
      expect(body).not.toContain("\n");
      const { variables } = statusWhatsApp(statusInput({ language }));
      const filled = body.replace(/\{\{(\d+)\}\}/g, (_all, n: string) => variables[n] ?? "");
      expect(filled.length).toBeLessThanOrEqual(1024);
      expect(filled).toContain(Receipt);
      expectCleanUtf8(filled);
    });
  }
});

describe("titles the catalogue lacks", () => {
  function collector() {
    const destination = memoryDestination();
    const logger = createLogger({ level: "info", format: "json", destination: destination.stream });
    const unknownLines = () =>
      destination.lines.filter((line) => line.msg === "unknown USCIS status title");
    return { logger, unknownLines };
  }

  test("are reported once while building messages, whatever the channel", () => {
    const { logger, unknownLines } = collector();
    const input = statusInput({ status: UnknownStatus });

    statusEmail(input, { logger });
    statusWhatsApp(input, { logger });
    statusEmail({ ...input, language: "pt" }, { logger });

    expect(unknownLines()).toHaveLength(1);
    expect(unknownLines()[0]?.title).toBe(UnknownStatus.code);
  });

  test("known titles are not reported", () => {
    const { logger, unknownLines } = collector();

    statusEmail(statusInput(), { logger });

    expect(unknownLines()).toHaveLength(0);
  });
});
