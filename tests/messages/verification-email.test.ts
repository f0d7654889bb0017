import { describe, expect, test } from "bun:test";
import type { Language } from "../../src/messages/language.ts";
import { verificationEmail } from "../../src/messages/verification-email.ts";
import { AllLanguages, allParts, expectCleanUtf8 } from "./fixtures.ts";

const Link = "https://flow.example/v1/users/verify-email?token=ifv_abc&lang=pt";

function render(language: Language, userName: string | null = "Ana Souza") {
  return verificationEmail({
    language,
    partnerName: "Acme Immigration Law",
    logoUrl: "https://acme.example/logo.png",
    userName,
    link: Link,
  });
}

const Expected: Record<Language, { subject: string; hello: string; button: string }> = {
  en: {
    subject: "Confirm your e-mail for Acme Immigration Law",
    hello: "Hello Ana Souza,",
    button: "Confirm my e-mail",
  },
  es: {
    subject: "Confirme su correo electrónico para Acme Immigration Law",
    hello: "Hola, Ana Souza:",
    button: "Confirmar mi correo",
  },
  pt: {
    subject: "Confirme seu e-mail para Acme Immigration Law",
    hello: "Olá, Ana Souza!",
    button: "Confirmar meu e-mail",
  },
};

describe("verification e-mail", () => {
  for (const language of AllLanguages) {
    const expected = Expected[language];

    test(`${language}: greets, explains and links`, () => {
      const email = render(language);

      expect(email.subject).toBe(expected.subject);
      expect(email.text).toStartWith(`${expected.hello}\n`);
      expect(email.text).toContain(`${expected.button}: ${Link}`);
      expect(email.html).toContain(expected.button);
      expect(email.html).toContain(`href="${Link.replaceAll("&", "&amp;")}"`);
      expect(email.html).not.toContain(Link);
      expect(email.html).toContain('<img src="https://acme.example/logo.png"');
      expect(email.html).toContain("48");
      for (const part of allParts(email)) expectCleanUtf8(part);
    });

    test(`${language}: without a name, a plain greeting`, () => {
      expect(render(language, null).text).toStartWith(
        { en: "Hello,\n", es: "Hola:\n", pt: "Olá!\n" }[language],
      );
      expect(render(language, "   ").text).toStartWith(
        { en: "Hello,\n", es: "Hola:\n", pt: "Olá!\n" }[language],
      );
    });
  }

  test("the user's name is escaped in the HTML", () => {
    const email = render("en", "<img src=x onerror=alert(1)>");

    expect(email.html).not.toContain("<img src=x");
    expect(email.html).toContain("&lt;img src=x onerror=alert(1)&gt;");
  });
});
