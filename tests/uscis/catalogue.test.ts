import { describe, expect, test } from "bun:test";
import {
  CatalogueTitles,
  Categories,
  type Category,
  lookupStatus,
  SettledCategories,
  translateDescriptionPt,
} from "../../src/uscis/catalogue.ts";
import { SeenTitles } from "./seen-titles.ts";

describe("catalogue", () => {
  test("holds every title the notes list, and nothing twice", () => {
    const titles = CatalogueTitles.map((entry) => entry.titleEn);
    expect(new Set(titles).size).toBe(titles.length);
    expect([...titles].sort()).toEqual([...SeenTitles].sort());
  });

  test.each(SeenTitles)("%s: known, categorised, with Portuguese and Spanish", (title) => {
    const entry = lookupStatus(title);
    expect(entry.known).toBe(true);
    expect(entry.category).not.toBe("unknown");
    expect(Categories).toContain(entry.category);
    expect(entry.titlePt?.length ?? 0).toBeGreaterThan(3);
    expect(entry.titlePt).not.toBe(title);
    expect(entry.titleEs?.length ?? 0).toBeGreaterThan(3);
    expect(entry.titleEn).toBe(title);
  });

  test("the two confirmed Spanish titles are USCIS's wording", () => {
    expect(lookupStatus("Case Was Approved").titleEs).toBe("Caso Fue Aprobado");
    expect(lookupStatus("Card Was Delivered To Me By The Post Office").titleEs).toBe(
      "Tarjeta Me Fue Entregada Por El Servicio Postal De EE.UU.",
    );
    const confirmed = CatalogueTitles.filter((entry) => entry.esConfirmed).map((e) => e.titleEn);
    expect(confirmed.sort()).toEqual([
      "Card Was Delivered To Me By The Post Office",
      "Case Was Approved",
    ]);
  });

  test.each([
    ["Case Was Received", "received"],
    ["Case Was Updated To Show Fingerprints Were Taken", "biometrics"],
    ["Case Is Being Actively Reviewed By USCIS", "in_review"],
    ["Case Transferred To Another Office", "transferred"],
    ["Request for Additional Evidence Was Sent", "rfe"],
    ["Response To USCIS' Request For Evidence Was Received", "rfe_response_received"],
    ["Notice Of Intent To Deny Was Sent", "noid"],
    ["Interview Was Scheduled", "interview"],
    ["Case Was Approved", "approved"],
    ["New Card Is Being Produced", "card_production"],
    ["Card Was Mailed To Me", "card_mailed"],
    ["Card Was Delivered To Me By The Post Office", "card_delivered"],
    ["Document Was Mailed To Me", "document_mailed"],
    ["Card Was Returned To USCIS", "returned_mail"],
    ["Case Was Denied", "denied"],
    ["Case Was Rejected Because I Did Not Sign My Form", "rejected"],
    ["Withdrawal Acknowledgement Notice Was Sent", "withdrawn"],
    ["Case Approval Was Revoked", "revoked"],
    ["Case Closed Benefit Received By Other Means", "closed"],
  ] as [string, Category][])("%s -> %s", (title, category) => {
    expect(lookupStatus(title).category).toBe(category);
  });

  test("matching ignores case, punctuation and spacing", () => {
    const variants = [
      "case was approved",
      "CASE WAS APPROVED",
      "  Case   Was\u00A0Approved. ",
      "Response to USCIS’ Request for Evidence Was Received",
      "Response To USCIS Request For Evidence Was Received",
      "Case Was Approved And USCIS Notified The US Consulate Or Port Of Entry",
      "Petition / Application Was Rejected For Insufficient Funds",
    ];
    for (const title of variants) expect(lookupStatus(title).known).toBe(true);
    expect(lookupStatus("Response to USCIS’ Request for Evidence Was Received").category).toBe(
      "rfe_response_received",
    );
  });

  test("an unknown title is unknown, with no Portuguese", () => {
    expect(lookupStatus("Something Entirely New Happened")).toEqual({
      category: "unknown",
      titlePt: null,
      titleEs: null,
      titleEn: null,
      known: false,
    });
    expect(lookupStatus("").known).toBe(false);
  });

  test("an unknown title gets a category from its words, response before evidence", () => {
    expect(lookupStatus("Response To Request For Initial Evidence Was Received")).toMatchObject({
      category: "rfe_response_received",
      known: false,
    });
    expect(lookupStatus("Request For Further Evidence Was Mailed").category).toBe("rfe");
    expect(lookupStatus("Card Was Returned To USCIS Again").category).toBe("returned_mail");
    expect(lookupStatus("Case Was Approved And My Decision Was Mailed").category).toBe("approved");
    expect(lookupStatus("Oath Ceremony Was Scheduled").category).toBe("interview");
    expect(lookupStatus("Case Was Received At Another USCIS Office").category).toBe("received");
    expect(lookupStatus("Fingerprint Review Was Completed").category).toBe("biometrics");
    expect(lookupStatus("Motion To Reopen Was Denied").category).toBe("denied");
  });

  test("settled categories are the ones a case rarely leaves", () => {
    expect(SettledCategories.has("card_delivered")).toBe(true);
    expect(SettledCategories.has("approved")).toBe(false);
    for (const category of SettledCategories) expect(Categories).toContain(category);
  });
});

describe("translateDescriptionPt", () => {
  const form = "I-765, Application for Employment Authorization";

  test("received: date, form and receipt carried over", () => {
    const en =
      `On May 4, 2026, we received your Form ${form}, Receipt Number IOE0912345678, and sent ` +
      "you the receipt notice that describes how we will process your case. Please follow the " +
      "instructions in the notice. If you have any questions, contact the USCIS Contact Center " +
      "at www.uscis.gov/contactcenter. If you move, go to www.uscis.gov/addresschange to give " +
      "us your new mailing address.";
    expect(translateDescriptionPt(en)).toBe(
      `Em 4 de maio de 2026, recebemos seu Formulário ${form}, número de recibo IOE0912345678, ` +
        "e enviamos a você o aviso de recebimento, que explica como vamos processar seu caso. " +
        "Siga as instruções do aviso. Se tiver dúvidas, fale com a Central de Atendimento do " +
        "USCIS em www.uscis.gov/contactcenter. Se você se mudar, acesse " +
        "www.uscis.gov/addresschange para nos informar seu novo endereço.",
    );
  });

  // [what comes before "your Form ...", what comes after the receipt, how the Portuguese starts]
  const sentences: [string, string, string][] = [
    [
      "As of June 1, 2026, fingerprints relating to",
      ", have been applied to your case",
      "Em 1º de junho de 2026, as impressões digitais",
    ],
    [
      "As of March 10, 2026, we scheduled your biometrics services appointment for",
      "",
      "Em 10 de março de 2026, agendamos seu atendimento de coleta de biometria",
    ],
    [
      "As of December 31, 2025, we are actively reviewing",
      "",
      "Desde 31 de dezembro de 2025, estamos analisando ativamente",
    ],
    [
      "On May 4, 2026, we mailed a request for evidence for",
      "",
      "Em 4 de maio de 2026, enviamos um pedido de evidências",
    ],
    [
      "On May 4, 2026, we received your response to our Request for Evidence for",
      "",
      "Em 4 de maio de 2026, recebemos sua resposta ao nosso pedido de evidências",
    ],
    [
      "On May 4, 2026, we scheduled an interview for",
      "",
      "Em 4 de maio de 2026, agendamos uma entrevista",
    ],
    ["On May 4, 2026, we approved", "", "Em 4 de maio de 2026, aprovamos seu Formulário"],
    [
      "On May 4, 2026, we ordered your new card for",
      "",
      "Em 4 de maio de 2026, solicitamos a produção do seu novo cartão",
    ],
    [
      "On May 4, 2026, we mailed your new card for",
      ", to the address you gave us",
      "Em 4 de maio de 2026, enviamos pelo correio seu novo cartão",
    ],
    [
      "On May 4, 2026, the Post Office delivered your new card for",
      ", to the address that you gave us",
      "Em 4 de maio de 2026, o correio entregou seu novo cartão",
    ],
    ["On May 4, 2026, we denied", "", "Em 4 de maio de 2026, negamos seu Formulário"],
    ["On May 4, 2026, we rejected", "", "Em 4 de maio de 2026, rejeitamos seu Formulário"],
    [
      "On May 4, 2026, we transferred",
      ", to another USCIS office",
      "Em 4 de maio de 2026, transferimos seu Formulário",
    ],
    [
      "On May 4, 2026, we mailed you a notice acknowledging the withdrawal of",
      "",
      "Em 4 de maio de 2026, enviamos pelo correio um aviso confirmando a desistência",
    ],
  ];

  test.each(sentences)("%s ...", (lead, tail, ptStart) => {
    const en = `${lead} your Form ${form}, Receipt Number EAC1512345678${tail}.`;
    const pt = translateDescriptionPt(en);
    expect(pt).toStartWith(ptStart);
    expect(pt).toContain(`Formulário ${form}`);
    expect(pt).toContain("número de recibo EAC1512345678");
    expect(pt).not.toMatch(/\b(May|June|March|December)\b/);
  });

  test("a form name with commas and a * receipt survive", () => {
    const en =
      "On July 9, 2024, we approved your Form I-360, Petition for Amerasian, Widow(er), or " +
      "Special Immigrant, Receipt Number SRC*123456789.";
    expect(translateDescriptionPt(en)).toBe(
      "Em 9 de julho de 2024, aprovamos seu Formulário I-360, Petition for Amerasian, " +
        "Widow(er), or Special Immigrant, número de recibo SRC*123456789.",
    );
  });

  test("a tracking number is carried over", () => {
    const en =
      `On May 4, 2026, the Post Office delivered your new card for your Form ${form}, Receipt ` +
      "Number EAC1512345678, to the address that you gave us. The tracking number assigned is " +
      "9205590153708123456789.";
    expect(translateDescriptionPt(en)).toEndWith(
      "O número de rastreamento é 9205590153708123456789.",
    );
  });

  test("a sentence we have no Portuguese for is kept, not dropped", () => {
    const en =
      `On May 4, 2026, we approved your Form ${form}, Receipt Number EAC1512345678. ` +
      "Your U.S. passport application is a separate process.";
    expect(translateDescriptionPt(en)).toBe(
      `Em 4 de maio de 2026, aprovamos seu Formulário ${form}, número de recibo EAC1512345678. ` +
        "Your U.S. passport application is a separate process.",
    );
  });

  test("only boilerplate, or nothing known -> null", () => {
    expect(translateDescriptionPt("Please follow the instructions in the notice.")).toBeNull();
    expect(translateDescriptionPt("Something USCIS has never said before.")).toBeNull();
    expect(translateDescriptionPt("")).toBeNull();
  });
});
