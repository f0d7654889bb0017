import { composeEmail, htmlButton, htmlNote, htmlParagraph } from "./html.ts";
import type { Language } from "./language.ts";
import { greeting, oneLine } from "./text.ts";

interface VerificationText {
  subject: (partner: string) => string;
  body: (partner: string) => string;
  button: string;
  /** For mail clients that show no buttons, and for the plain-text part. */
  pasteLink: string;
  expiry: string;
  ignore: string;
  footer: (partner: string) => string;
}

const Texts: Record<Language, VerificationText> = {
  en: {
    subject: (partner) => `Confirm your e-mail for ${partner}`,
    body: (partner) =>
      `${partner} will send updates on your USCIS cases to this address. ` +
      "Please confirm that it is yours.",
    button: "Confirm my e-mail",
    pasteLink: "If the button does not work, open this link:",
    expiry: "The link works for 48 hours.",
    ignore: "If you did not expect this message, you can ignore it.",
    footer: (partner) => `Sent by ${partner} because this address was given for case updates.`,
  },
  es: {
    subject: (partner) => `Confirme su correo electrónico para ${partner}`,
    body: (partner) =>
      `${partner} enviará a esta dirección las novedades de sus casos de USCIS. ` +
      "Confirme que es suya.",
    button: "Confirmar mi correo",
    pasteLink: "Si el botón no funciona, abra este enlace:",
    expiry: "El enlace funciona durante 48 horas.",
    ignore: "Si no esperaba este mensaje, puede ignorarlo.",
    footer: (partner) =>
      `Enviado por ${partner} porque esta dirección se registró para recibir novedades.`,
  },
  pt: {
    subject: (partner) => `Confirme seu e-mail para ${partner}`,
    body: (partner) =>
      `${partner} enviará a este endereço as novidades dos seus casos no USCIS. ` +
      "Confirme que ele é seu.",
    button: "Confirmar meu e-mail",
    pasteLink: "Se o botão não funcionar, abra este link:",
    expiry: "O link funciona por 48 horas.",
    ignore: "Se você não esperava esta mensagem, pode ignorá-la.",
    footer: (partner) =>
      `Enviado por ${partner} porque este endereço foi cadastrado para receber novidades.`,
  },
};

export function verificationEmail(input: {
  language: Language;
  partnerName: string;
  logoUrl: string | null;
  userName: string | null;
  link: string;
}): { subject: string; text: string; html: string } {
  const text = Texts[input.language];
  const partner = oneLine(input.partnerName);
  const hello = greeting(input.language, input.userName);

  const bodyHtml = [
    htmlParagraph(hello),
    htmlParagraph(text.body(partner)),
    htmlButton(text.button, input.link),
    htmlNote(`${text.pasteLink}\n${input.link}`),
    htmlNote(`${text.expiry} ${text.ignore}`),
  ].join("");

  return composeEmail({
    language: input.language,
    partnerName: partner,
    logoUrl: input.logoUrl,
    subject: text.subject(partner),
    bodyHtml,
    textLines: [
      hello,
      "",
      text.body(partner),
      "",
      `${text.button}: ${input.link}`,
      "",
      `${text.expiry} ${text.ignore}`,
    ],
    preheader: text.body(partner),
    footer: text.footer(partner),
  });
}
