import type { Language } from "./language.ts";
import { oneLine } from "./text.ts";

const Entities: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => Entities[c]!);

/** Escapes and keeps the text's own line breaks, which HTML would otherwise fold away. */
export const escapeLines = (text: string) => escapeHtml(text).replace(/\r?\n/g, "<br />");

// Regional tags help screen readers pick the right voice: our Spanish is written for Latin
// America and our Portuguese for Brazil.
const HtmlLang: Record<Language, string> = { en: "en", es: "es-419", pt: "pt-BR" };

export const htmlLang = (language: Language) => HtmlLang[language];

/**
 * The colours and sizes every e-mail shares. Inline on each element because mail clients drop
 * style sheets and most of CSS.
 */
const Style = {
  body:
    "margin:0;padding:0;background:#ffffff;font-family:Arial,Helvetica,sans-serif;" +
    "color:#1f2933;line-height:1.5",
  page: "max-width:560px;margin:0 auto;padding:24px",
  paragraph: "margin:0 0 16px 0",
  highlight:
    "margin:0 0 16px 0;padding:12px 16px;background:#f0f4f8;border-left:4px solid #1d4ed8;" +
    "font-size:18px;font-weight:bold",
  code:
    "margin:0 0 16px 0;padding:12px 16px;background:#f0f4f8;font-family:'Courier New',monospace;" +
    "font-size:32px;font-weight:bold;letter-spacing:6px;text-align:center",
  button:
    "display:inline-block;padding:10px 18px;background:#1d4ed8;color:#ffffff;" +
    "text-decoration:none;border-radius:4px",
  heading: "margin:0 0 4px 0;font-weight:bold",
  quote: "margin:0 0 16px 0;padding:0 0 0 12px;border-left:3px solid #cbd2d9",
  note: "margin:0 0 16px 0;color:#52606d;font-size:13px",
  small: ";color:#52606d;font-size:13px;font-weight:normal",
  label: "padding:2px 12px 2px 0;color:#52606d;vertical-align:top;white-space:nowrap",
  value: "padding:2px 0;vertical-align:top",
  footer:
    "margin:24px 0 0 0;padding:12px 0 0 0;border-top:1px solid #e4e7eb;color:#7b8794;" +
    "font-size:12px",
  preheader: "display:none;max-height:0;max-width:0;overflow:hidden;opacity:0;color:transparent",
} as const;

/** A paragraph of plain text. */
export const htmlParagraph = (text: string) =>
  `<p style="${Style.paragraph}">${escapeLines(text)}</p>`;

/** The one thing the reader came for: a status title. */
export const htmlHighlight = (text: string) =>
  `<p style="${Style.highlight}">${escapeHtml(text)}</p>`;

/** A one-time code, large and in a fixed-width face so 0 and O, 1 and l read apart. */
export const htmlCode = (code: string) => `<p style="${Style.code}">${escapeHtml(code)}</p>`;

export const htmlButton = (label: string, href: string) =>
  `<p style="${Style.paragraph}"><a href="${escapeHtml(href)}" style="${Style.button}">` +
  `${escapeHtml(label)}</a></p>`;

/**
 * Text quoted from someone else (USCIS), under a short heading. `lang` marks a quote in
 * another language than the e-mail's (USCIS's English in a Spanish e-mail), so screen readers
 * switch voice; `small` sets it as small print.
 */
export function htmlQuote(
  heading: string,
  text: string,
  options: { lang?: string; small?: boolean } = {},
): string {
  const lang = options.lang ? ` lang="${escapeHtml(options.lang)}"` : "";
  const tone = options.small ? Style.small : "";
  return (
    `<p style="${Style.heading}${tone}">${escapeHtml(heading)}</p>` +
    `<p style="${Style.quote}${tone}"${lang}>${escapeLines(text)}</p>`
  );
}

/** Small print: expiry times, translation notes. */
export const htmlNote = (text: string) => `<p style="${Style.note}">${escapeLines(text)}</p>`;

/** Label and value rows; a table because it is the only layout every mail client agrees on. */
export function htmlFacts(rows: readonly (readonly [label: string, value: string])[]): string {
  if (rows.length === 0) return "";
  const cells = rows.map(
    ([label, value]) =>
      `<tr><td style="${Style.label}">${escapeHtml(label)}</td>` +
      `<td style="${Style.value}">${escapeHtml(value)}</td></tr>`,
  );
  return (
    '<table role="presentation" cellpadding="0" cellspacing="0" ' +
    `style="margin:0 0 16px 0;border-collapse:collapse">${cells.join("")}</table>`
  );
}

// Only web addresses become an <img>: a logo URL is the partner's input, and anything else
// (javascript:, data:) has no business in an e-mail.
const WebAddress = /^https?:\/\//i;

/**
 * The frame every e-mail shares: the partner's logo (or its name), the body, small print.
 * `bodyHtml` must already be escaped; everything else is escaped here.
 */
export function emailFrame(options: {
  lang: string;
  partnerName: string;
  logoUrl: string | null;
  bodyHtml: string;
  /** The line mail clients show next to the subject in the inbox. */
  preheader?: string;
  footer?: string;
}): string {
  const logo =
    options.logoUrl && WebAddress.test(options.logoUrl)
      ? `<img src="${escapeHtml(options.logoUrl)}" alt="${escapeHtml(options.partnerName)}" ` +
        'style="max-height:48px;max-width:200px;border:0" />'
      : `<strong style="font-size:18px">${escapeHtml(options.partnerName)}</strong>`;
  const preheader = options.preheader
    ? `<div style="${Style.preheader}">${escapeHtml(options.preheader)}</div>`
    : "";
  const footer = options.footer
    ? `<p style="${Style.footer}">${escapeLines(options.footer)}</p>`
    : "";
  return [
    "<!doctype html>",
    `<html lang="${escapeHtml(options.lang)}"><head><meta charset="utf-8" />`,
    '<meta name="viewport" content="width=device-width, initial-scale=1" />',
    `<title>${escapeHtml(options.partnerName)}</title></head>`,
    `<body style="${Style.body}">${preheader}`,
    `<div style="${Style.page}"><p style="margin:0 0 24px 0">${logo}</p>`,
    options.bodyHtml,
    footer,
    "</div></body></html>",
  ].join("");
}

/**
 * The finished e-mail: a one-line subject, the plain-text part with its signature, and the HTML
 * part in the shared frame, so every message ImmigraFlow sends looks and reads alike.
 */
export function composeEmail(parts: {
  language: Language;
  partnerName: string;
  logoUrl: string | null;
  subject: string;
  bodyHtml: string;
  textLines: string[];
  preheader: string;
  footer: string;
}): { subject: string; text: string; html: string } {
  return {
    subject: oneLine(parts.subject),
    text: `${[...parts.textLines, "", "-- ", parts.footer].join("\n")}\n`,
    html: emailFrame({
      lang: htmlLang(parts.language),
      partnerName: parts.partnerName,
      logoUrl: parts.logoUrl,
      bodyHtml: parts.bodyHtml,
      preheader: parts.preheader,
      footer: parts.footer,
    }),
  };
}
