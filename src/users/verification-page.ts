import { createHash } from "node:crypto";
import { escapeHtml, htmlLang } from "../messages/html.ts";
import { type Language, Languages } from "../messages/language.ts";
import { oneLine } from "../messages/text.ts";

/** What the verification link came to, as the person who clicked it is told. */
export type VerificationOutcome = "verified" | "already_verified" | "invalid";

interface PageText {
  title: string;
  body: (partner: string) => string;
}

const Texts: Record<Language, Record<VerificationOutcome, PageText>> = {
  en: {
    verified: {
      title: "Your e-mail is confirmed",
      body: (partner) =>
        `${partner} will send updates on your USCIS cases to this address. ` +
        "You can close this page.",
    },
    already_verified: {
      title: "Your e-mail was already confirmed",
      body: () => "There is nothing else to do. You can close this page.",
    },
    invalid: {
      title: "This link is invalid or has expired",
      body: () => "If you still need to confirm your e-mail, ask for a new message.",
    },
  },
  es: {
    verified: {
      title: "Su correo electrónico está confirmado",
      body: (partner) =>
        `${partner} enviará a esta dirección las novedades de sus casos de USCIS. ` +
        "Ya puede cerrar esta página.",
    },
    already_verified: {
      title: "Su correo electrónico ya estaba confirmado",
      body: () => "No hace falta hacer nada más. Ya puede cerrar esta página.",
    },
    invalid: {
      title: "Este enlace no es válido o ha caducado",
      body: () =>
        "Si todavía necesita confirmar su correo electrónico, " + "solicite un nuevo mensaje.",
    },
  },
  pt: {
    verified: {
      title: "Seu e-mail está confirmado",
      body: (partner) =>
        `${partner} enviará a este endereço as novidades dos seus casos no USCIS. ` +
        "Você já pode fechar esta página.",
    },
    already_verified: {
      title: "Seu e-mail já estava confirmado",
      body: () => "Não é preciso fazer mais nada. Você já pode fechar esta página.",
    },
    invalid: {
      title: "Este link é inválido ou expirou",
      body: () => "Se ainda precisar confirmar seu e-mail, peça uma nova mensagem.",
    },
  },
};

const Style =
  "body{margin:0;background:#fff;color:#1f2933;font-family:Arial,Helvetica,sans-serif;" +
  "line-height:1.5}main{max-width:560px;margin:0 auto;padding:32px 24px}" +
  ".brand{margin:0 0 24px 0;font-size:18px;font-weight:bold}" +
  ".brand img{max-height:48px;max-width:200px;border:0}h1{font-size:22px;margin:0 0 12px 0}";

// The page runs no script and loads nothing but the partner's logo; the style sheet is allowed
// by its hash, so not even an injected <style> would apply.
const StyleHash = `'sha256-${createHash("sha256").update(Style).digest("base64")}'`;

/**
 * Only a web address becomes an <img> (a logo URL is the partner's input), and the policy then
 * allows images from that one origin.
 */
function logoOrigin(logoUrl: string | null): string | null {
  if (!logoUrl || !/^https?:\/\//i.test(logoUrl)) return null;
  try {
    return new URL(logoUrl).origin;
  } catch {
    return null;
  }
}

/** The partner's logo, or its name where it has no usable one. */
function brandHtml(partnerName: string, logoUrl: string | null): string {
  const brand = logoUrl
    ? `<img src="${escapeHtml(logoUrl)}" alt="${escapeHtml(partnerName)}" ` +
      'referrerpolicy="no-referrer" />'
    : escapeHtml(partnerName);
  return `<p class="brand">${brand}</p>`;
}

export interface Partner {
  name: string;
  logoUrl: string | null;
}

export interface VerificationPage {
  html: string;
  contentSecurityPolicy: string;
}

/**
 * The page behind the link in the verification e-mail. An invalid link names no partner and
 * no user: whoever holds a guessed or stale token learns nothing from it.
 */
export function verificationPage(
  input:
    | { outcome: "verified" | "already_verified"; language: Language; partner: Partner }
    | { outcome: "invalid"; language: Language },
): VerificationPage {
  const text = Texts[input.language][input.outcome];
  const partner = input.outcome === "invalid" ? null : input.partner;
  const partnerName = partner ? oneLine(partner.name) : "";
  const origin = partner ? logoOrigin(partner.logoUrl) : null;

  const html = [
    "<!doctype html>",
    `<html lang="${htmlLang(input.language)}"><head><meta charset="utf-8" />`,
    '<meta name="viewport" content="width=device-width, initial-scale=1" />',
    '<meta name="referrer" content="no-referrer" />',
    '<meta name="robots" content="noindex" />',
    `<title>${escapeHtml(text.title)}</title>`,
    `<style>${Style}</style></head>`,
    `<body><main>${partner ? brandHtml(partnerName, origin ? partner.logoUrl : null) : ""}`,
    `<h1>${escapeHtml(text.title)}</h1>`,
    `<p>${escapeHtml(text.body(partnerName))}</p>`,
    "</main></body></html>",
  ].join("");

  const contentSecurityPolicy = [
    "default-src 'none'",
    `style-src ${StyleHash}`,
    `img-src ${origin ?? "'none'"}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  return { html, contentSecurityPolicy };
}

/**
 * Whether the caller asked for JSON rather than the page: `application/json` ranked above
 * `text/html` in Accept. A browser following the link never does; no Accept means the page.
 */
export function prefersJson(accept: string | null): boolean {
  if (!accept) return false;
  const ranges = parseWeighted(accept);
  return quality(ranges, "application", "json") > quality(ranges, "text", "html");
}

/** The first of our languages the browser asks for, English when it asks for none of them. */
export function languageFromHeader(acceptLanguage: string | null): Language {
  if (!acceptLanguage) return "en";
  let best: { language: Language; q: number } | null = null;
  for (const { value, q } of parseWeighted(acceptLanguage)) {
    const primary = value.split("-")[0]!.toLowerCase();
    const language = Languages.find((candidate) => candidate === primary);
    if (language && q > 0 && (!best || q > best.q)) best = { language, q };
  }
  return best?.language ?? "en";
}

function parseWeighted(header: string): { value: string; q: number }[] {
  return header.split(",").flatMap((part) => {
    const [value, ...params] = part.split(";").map((piece) => piece.trim());
    if (!value) return [];
    const qParam = params.find((param) => /^q=/i.test(param));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    return [{ value: value.toLowerCase(), q: Number.isFinite(q) ? q : 0 }];
  });
}

/** The weight the most specific matching media range gives a type, as RFC 9110 ranks them. */
function quality(ranges: { value: string; q: number }[], type: string, subtype: string): number {
  for (const candidate of [`${type}/${subtype}`, `${type}/*`, "*/*"]) {
    const range = ranges.find((entry) => entry.value === candidate);
    if (range) return range.q;
  }
  return 0;
}
