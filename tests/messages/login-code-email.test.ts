import { describe, expect, test } from "bun:test";
import type { Language } from "../../src/messages/language.ts";
import { loginCodeEmail } from "../../src/messages/login-code-email.ts";
import { AllLanguages, allParts, expectCleanUtf8 } from "./fixtures.ts";

const Code = "042917";

function render(language: Language, minutes = 10) {
  return loginCodeEmail({
    language,
    partnerName: "Acme Immigration Law",
    logoUrl: "https://acme.example/logo.png",
    code: Code,
    minutes,
  });
}

const Expected: Record<Language, { subject: string; expiry: string; ignore: string }> = {
  en: {
    subject: "Your sign-in code for Acme Immigration Law",
    expiry: "expires in 10 minutes",
    ignore: "If you did not ask for a code, you can ignore this e-mail.",
  },
  es: {
    subject: "Su código de acceso para Acme Immigration Law",
    expiry: "Vence en 10 minutos",
    ignore: "Si usted no pidió un código, puede ignorar este correo.",
  },
  pt: {
    subject: "Seu código de acesso para Acme Immigration Law",
    expiry: "expira em 10 minutos",
    ignore: "Se você não pediu um código, pode ignorar este e-mail.",
  },
};

describe("login code e-mail", () => {
  for (const language of AllLanguages) {
    const expected = Expected[language];

    test(`${language}: the code, its lifetime and what to do if unasked`, () => {
      const email = render(language);

      expect(email.subject).toBe(expected.subject);
      for (const part of [email.html, email.text]) {
        expect(part).toContain(Code);
        expect(part).toContain(expected.expiry);
        expect(part).toContain(expected.ignore);
        expect(part).toContain("Acme Immigration Law");
      }
      expect(email.text).toMatch(new RegExp(`^ +${Code}$`, "m"));
      expect(email.html).toMatch(new RegExp(`font-size:32px[^>]*>${Code}</p>`));
      expect(email.html).toContain('<img src="https://acme.example/logo.png"');
      expect(email.html).toContain('<meta charset="utf-8" />');
      for (const part of allParts(email)) expectCleanUtf8(part);
    });

    test(`${language}: the code stays out of the subject and the inbox preview`, () => {
      const email = render(language);
      const preview = /<div style="display:none[^"]*">([^<]*)<\/div>/.exec(email.html)?.[1];

      expect(email.subject).not.toContain(Code);
      expect(preview).toBeDefined();
      expect(preview).not.toContain(Code);
    });
  }

  test("one minute is singular", () => {
    expect(render("en", 1).text).toContain("expires in 1 minute and");
    expect(render("es", 1).text).toContain("Vence en 1 minuto y");
    expect(render("pt", 1).text).toContain("expira em 1 minuto e");
  });

  test("the partner's name is escaped in the HTML", () => {
    const email = loginCodeEmail({
      language: "en",
      partnerName: "<Smith & Sons>",
      logoUrl: null,
      code: Code,
      minutes: 10,
    });

    expect(email.html).not.toContain("<Smith");
    expect(email.html).toContain("&lt;Smith &amp; Sons&gt;");
  });
});
