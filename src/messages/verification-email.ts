import { emailFrame, escapeHtml } from "./html.ts";
import type { Language } from "./language.ts";

interface VerificationText {
  subject: (partner: string) => string;
  greeting: (name: string | null) => string;
  body: (partner: string) => string;
  button: string;
  expiry: string;
  ignore: string;
}

const Texts: Record<Language, VerificationText> = {
  en: {
    subject: (partner) => `Confirm your e-mail for ${partner}`,
    greeting: (name) => (name ? `Hello ${name},` : "Hello,"),
    body: (partner) =>
      `${partner} will send updates on your USCIS cases to this address. ` +
      "Please confirm that it is yours.",
    button: "Confirm my e-mail",
    expiry: "The link works for 48 hours.",
    ignore: "If you did not expect this message, you can ignore it.",
  },
  es: {
    subject: (partner) => `Confirme su correo electrónico para ${partner}`,
    greeting: (name) => (name ? `Hola, ${name}:` : "Hola:"),
    body: (partner) =>
      `${partner} enviará a esta dirección las novedades de sus casos de USCIS. ` +
      "Confirme que es suya.",
    button: "Confirmar mi correo",
    expiry: "El enlace funciona durante 48 horas.",
    ignore: "Si no esperaba este mensaje, puede ignorarlo.",
  },
  pt: {
    subject: (partner) => `Confirme seu e-mail para ${partner}`,
    greeting: (name) => (name ? `Olá, ${name}!` : "Olá!"),
    body: (partner) =>
      `${partner} enviará a este endereço as novidades dos seus casos no USCIS. ` +
      "Confirme que ele é seu.",
    button: "Confirmar meu e-mail",
    expiry: "O link funciona por 48 horas.",
    ignore: "Se você não esperava esta mensagem, pode ignorá-la.",
  },
};

export function verificationEmail(input: {
  language: Language;
  partnerName: string;
  logoUrl: string | null;
  userName: string | null;
  link: string;
}) {
  const text = Texts[input.language];
  const bodyHtml = [
    `<p>${escapeHtml(text.greeting(input.userName))}</p>`,
    `<p>${escapeHtml(text.body(input.partnerName))}</p>`,
    `<p><a href="${escapeHtml(input.link)}" style="display:inline-block;padding:10px 18px;`,
    `background:#1d4ed8;color:#ffffff;text-decoration:none;border-radius:4px">`,
    `${escapeHtml(text.button)}</a></p>`,
    `<p style="color:#52606d;font-size:13px">${escapeHtml(text.expiry)} `,
    `${escapeHtml(text.ignore)}</p>`,
  ].join("");
  return {
    subject: text.subject(input.partnerName),
    text: [
      text.greeting(input.userName),
      "",
      text.body(input.partnerName),
      "",
      `${text.button}: ${input.link}`,
      "",
      `${text.expiry} ${text.ignore}`,
    ].join("\n"),
    html: emailFrame({
      lang: input.language,
      partnerName: input.partnerName,
      logoUrl: input.logoUrl,
      bodyHtml,
    }),
  };
}
