import { composeEmail, htmlCode, htmlNote, htmlParagraph } from "./html.ts";
import type { Language } from "./language.ts";
import { oneLine } from "./text.ts";

interface LoginCodeText {
  subject: (partner: string) => string;
  intro: (partner: string) => string;
  expiry: (minutes: number) => string;
  dontShare: (partner: string) => string;
  ignore: string;
  footer: (partner: string) => string;
}

const Texts: Record<Language, LoginCodeText> = {
  en: {
    subject: (partner) => `Your sign-in code for ${partner}`,
    intro: (partner) => `Here is your code to sign in to ${partner}:`,
    expiry: (minutes) =>
      `It expires in ${minutes} ${minutes === 1 ? "minute" : "minutes"} and works only once.`,
    dontShare: (partner) => `Please keep it to yourself: ${partner} will never ask you for it.`,
    ignore:
      "If you did not ask for a code, you can ignore this e-mail. No one can sign in without it.",
    footer: (partner) => `Sent by ${partner} because someone asked to sign in with this address.`,
  },
  es: {
    subject: (partner) => `Su código de acceso para ${partner}`,
    intro: (partner) => `Este es su código para iniciar sesión en ${partner}:`,
    expiry: (minutes) =>
      `Vence en ${minutes} ${minutes === 1 ? "minuto" : "minutos"} y sirve una sola vez.`,
    dontShare: (partner) => `No lo comparta con nadie: ${partner} nunca se lo pedirá.`,
    ignore: "Si usted no pidió un código, puede ignorar este correo. Nadie puede entrar sin él.",
    footer: (partner) =>
      `Enviado por ${partner} porque alguien pidió iniciar sesión con esta dirección.`,
  },
  pt: {
    subject: (partner) => `Seu código de acesso para ${partner}`,
    intro: (partner) => `Este é o seu código para entrar em ${partner}:`,
    expiry: (minutes) =>
      `Ele expira em ${minutes} ${minutes === 1 ? "minuto" : "minutos"} e só pode ser usado ` +
      "uma vez.",
    dontShare: (partner) => `Não compartilhe este código: ${partner} nunca vai pedi-lo a você.`,
    ignore:
      "Se você não pediu um código, pode ignorar este e-mail. Ninguém consegue entrar sem ele.",
    footer: (partner) =>
      `Enviado por ${partner} porque alguém pediu para entrar com este endereço.`,
  },
};

/**
 * The e-mail that carries a one-time sign-in code. The code appears only in the body, never
 * in the subject or the inbox preview: the mail log records subjects unmasked, and a lock
 * screen shows previews to whoever holds the phone.
 */
export function loginCodeEmail(input: {
  language: Language;
  partnerName: string;
  logoUrl: string | null;
  code: string;
  minutes: number;
}): { subject: string; html: string; text: string } {
  const text = Texts[input.language];
  const partner = oneLine(input.partnerName);
  const code = oneLine(input.code);

  const bodyHtml = [
    htmlParagraph(text.intro(partner)),
    htmlCode(code),
    htmlParagraph(text.expiry(input.minutes)),
    htmlParagraph(text.dontShare(partner)),
    htmlNote(text.ignore),
  ].join("");

  return composeEmail({
    language: input.language,
    partnerName: partner,
    logoUrl: input.logoUrl,
    subject: text.subject(partner),
    bodyHtml,
    textLines: [
      text.intro(partner),
      "",
      `    ${code}`,
      "",
      text.expiry(input.minutes),
      text.dontShare(partner),
      "",
      text.ignore,
    ],
    preheader: text.expiry(input.minutes),
    footer: text.footer(partner),
  });
}
