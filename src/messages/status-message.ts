/**
 * What a person reads when one of their cases is first seen or changes status: the e-mail and
 * the WhatsApp message, in the user's preferred language, under the partner's name and logo.
 *
 * USCIS's own words are quoted, never paraphrased: its Spanish verbatim when it sends one,
 * ImmigraFlow's Portuguese (USCIS publishes none), and its English when neither exists.
 */
import { lookupStatus } from "../uscis/catalogue.ts";
import {
  composeEmail,
  htmlFacts,
  htmlHighlight,
  htmlNote,
  htmlParagraph,
  htmlQuote,
} from "./html.ts";
import type { Language } from "./language.ts";
import { greeting, oneLine, shorten } from "./text.ts";
import { reportUnknownTitle, type UnknownTitleLogger } from "./unknown-titles.ts";

export type StatusMessageKind = "initial" | "status_changed";

/** A StatusUpdate row's texts, as API.md names them. */
export interface StatusTexts {
  /** USCIS's English title and text (status_code, status_description). */
  code: string;
  description: string;
  /** USCIS's own Spanish, verbatim; null when the answer carried none. */
  codeEs: string | null;
  descriptionEs: string | null;
  /** Ours; equal to the English where no Portuguese is known yet. */
  codePt: string;
  descriptionPt: string;
  category: string;
  /** A date for the status exactly as USCIS wrote it, used when the text itself has none. */
  date: string | null;
}

export interface StatusMessageInput {
  /** The user's preferred_language. */
  language: Language;
  partner: { name: string; logoUrl: string | null };
  userName: string | null;
  caseInfo: { receiptNumber: string; description: string | null; formType: string | null };
  kind: StatusMessageKind;
  status: StatusTexts;
}

export interface LanguageText {
  title: string;
  description: string;
  /** Some of what is shown is USCIS's English, for want of a text in the user's language. */
  fallbackToEnglish: boolean;
}

export interface StatusMessageOptions {
  /** Where titles missing from the catalogue are reported, once per title per process. */
  logger?: UnknownTitleLogger;
}

interface StatusCopy {
  subject: Record<StatusMessageKind, (receipt: string, title: string) => string>;
  headline: Record<StatusMessageKind, (partner: string) => string>;
  labels: { case: string; receipt: string; form: string; date: string };
  uscisSays: string;
  /** Shown when part of the text is USCIS's English. */
  fallbackNote: string;
  /** Shown with a text we translated ourselves, before USCIS's original. */
  translationNote: string | null;
  /** The same, in a few words, where space is short (WhatsApp). */
  translationTag: string | null;
  footer: (partner: string) => string;
}

const Copy: Record<Language, StatusCopy> = {
  en: {
    subject: {
      initial: (receipt, title) => `Now watching your case ${receipt}: ${title}`,
      status_changed: (receipt, title) => `Your case ${receipt} was updated: ${title}`,
    },
    headline: {
      initial: (partner) => `${partner} is now watching this case for you. Its current status is:`,
      status_changed: () => "Your case has moved to a new status:",
    },
    labels: {
      case: "Case",
      receipt: "Receipt number",
      form: "Form",
      date: "Date (as USCIS gave it)",
    },
    uscisSays: "What USCIS says",
    fallbackNote: "",
    translationNote: null,
    translationTag: null,
    footer: (partner) =>
      `You get this message because ${partner} follows your USCIS cases for you. ` +
      "It does not come from USCIS: the official status is always at uscis.gov.",
  },
  es: {
    subject: {
      initial: (receipt, title) => `Ahora seguimos su caso ${receipt}: ${title}`,
      status_changed: (receipt, title) => `Su caso ${receipt} fue actualizado: ${title}`,
    },
    headline: {
      initial: (partner) =>
        `A partir de ahora, ${partner} sigue este caso por usted. Su estado actual es:`,
      status_changed: () => "Su caso pasó a un nuevo estado:",
    },
    labels: {
      case: "Caso",
      receipt: "Número de recibo",
      form: "Formulario",
      date: "Fecha (según USCIS)",
    },
    uscisSays: "Lo que dice USCIS",
    fallbackNote:
      "USCIS no publicó este texto en español, así que lo mostramos en inglés, tal como lo " +
      "publicó.",
    translationNote: null,
    translationTag: null,
    footer: (partner) =>
      `Recibe este mensaje porque ${partner} sigue sus casos de USCIS por usted. ` +
      "No proviene de USCIS: el estado oficial siempre está en uscis.gov.",
  },
  pt: {
    subject: {
      initial: (receipt, title) => `Agora acompanhamos seu caso ${receipt}: ${title}`,
      status_changed: (receipt, title) => `Seu caso ${receipt} foi atualizado: ${title}`,
    },
    headline: {
      initial: (partner) =>
        `A partir de agora, ${partner} acompanha este caso para você. O status atual é:`,
      status_changed: () => "Seu caso passou para um novo status:",
    },
    labels: {
      case: "Caso",
      receipt: "Número de recibo",
      form: "Formulário",
      date: "Data (conforme o USCIS)",
    },
    uscisSays: "O que o USCIS diz",
    fallbackNote:
      "Ainda não temos este texto em português, por isso ele aparece em inglês, como o USCIS " +
      "o publicou.",
    translationNote:
      "O USCIS publica apenas em inglês. Esta tradução é informativa; o texto oficial é:",
    translationTag: "tradução informativa",
    footer: (partner) =>
      `Você recebe esta mensagem porque ${partner} acompanha seus casos no USCIS para você. ` +
      "Ela não vem do USCIS: o status oficial está sempre em uscis.gov.",
  },
};

/** A text that is missing, or only blanks, counts as absent. */
function present(text: string | null | undefined): string | null {
  const trimmed = text?.trim() ?? "";
  return trimmed === "" ? null : trimmed;
}

/**
 * The title and text to show in `language`. Spanish prefers USCIS's own; without it, the
 * catalogue's Spanish title goes with USCIS's English text. Portuguese is always ours, which
 * holds the English where we have no translation yet.
 */
export function pickLanguageText(language: Language, status: StatusTexts): LanguageText {
  const english = present(status.description) ?? "";

  if (language === "es") {
    const titleEs = present(status.codeEs) ?? present(lookupStatus(status.code).titleEs);
    const descriptionEs = present(status.descriptionEs);
    return {
      title: titleEs ?? status.code,
      description: descriptionEs ?? english,
      fallbackToEnglish: titleEs === null || (descriptionEs === null && english !== ""),
    };
  }

  if (language === "pt") {
    const title = present(status.codePt) ?? status.code;
    const description = present(status.descriptionPt) ?? english;
    return {
      title,
      description,
      fallbackToEnglish: title === status.code || (description === english && english !== ""),
    };
  }

  return { title: status.code, description: english, fallbackToEnglish: false };
}

const MonthsEn =
  "January|February|March|April|May|June|July|August|September|October|November|December";

// How USCIS's English, its Spanish and our Portuguese open a dated description: "On May 4,
// 2026, ...", "El 4 de mayo de 2026, ...", "Em 4 de maio de 2026, ..." (and "As of" forms).
const OpeningDates: readonly RegExp[] = [
  new RegExp(`^(?:On|As of)\\s+((?:${MonthsEn})\\s+\\d{1,2},\\s+\\d{4})\\s*,`, "iu"),
  /^(?:El|A partir del)\s+(\d{1,2}\s+de\s+\p{L}+\s+de\s+\d{4})\s*,/iu,
  /^(?:Em|Desde)\s+(\d{1,2}º?\s+de\s+\p{L}+\s+de\s+\d{4})\s*,/iu,
];

/** The date a description opens with, exactly as written there ("May 4, 2026"), or null. */
export function dateFromDescription(description: string): string | null {
  const text = description.trim();
  for (const pattern of OpeningDates) {
    const match = pattern.exec(text);
    if (match?.[1]) return oneLine(match[1]);
  }
  return null;
}

/**
 * The status's date as USCIS gave it: from the text being shown, so it reads in the same
 * language; else the row's own date; else from the English text.
 */
function statusDate(status: StatusTexts, shown: string): string | null {
  return (
    dateFromDescription(shown) ?? present(status.date) ?? dateFromDescription(status.description)
  );
}

/** Everything both channels say, worked out once. */
interface StatusFacts {
  copy: StatusCopy;
  text: LanguageText;
  partner: string;
  receipt: string;
  caseDescription: string | null;
  formType: string | null;
  date: string | null;
  /** The description shown is USCIS's English although the message is not. */
  inEnglish: boolean;
  /** USCIS's English, when the text shown is our translation of it. */
  original: { title: string; description: string } | null;
}

function gatherFacts(input: StatusMessageInput, options: StatusMessageOptions): StatusFacts {
  if (options.logger && !lookupStatus(input.status.code).known) {
    reportUnknownTitle(options.logger, input.status.code);
  }

  const copy = Copy[input.language];
  const text = pickLanguageText(input.language, input.status);
  const translated = copy.translationNote !== null && !text.fallbackToEnglish;
  const english = present(input.status.description);
  return {
    copy,
    text,
    partner: oneLine(input.partner.name),
    receipt: oneLine(input.caseInfo.receiptNumber),
    caseDescription: present(input.caseInfo.description),
    formType: present(input.caseInfo.formType),
    date: statusDate(input.status, text.description),
    inEnglish: input.language !== "en" && english !== null && text.description === english,
    original:
      translated && english !== null ? { title: input.status.code, description: english } : null,
  };
}

function factRows(facts: StatusFacts): [string, string][] {
  const { labels } = facts.copy;
  const rows: [string, string | null][] = [
    [labels.case, facts.caseDescription],
    [labels.receipt, facts.receipt],
    [labels.form, facts.formType],
    [labels.date, facts.date],
  ];
  return rows.filter((row): row is [string, string] => row[1] !== null);
}

/** The status e-mail: a subject, an HTML part and a plain-text part saying the same. */
export function statusEmail(
  input: StatusMessageInput,
  options: StatusMessageOptions = {},
): { subject: string; html: string; text: string } {
  const facts = gatherFacts(input, options);
  const { copy, text } = facts;
  const hello = greeting(input.language, input.userName);
  const headline = copy.headline[input.kind](facts.partner);
  const rows = factRows(facts);

  const bodyHtml = [
    htmlParagraph(hello),
    htmlParagraph(headline),
    htmlHighlight(text.title),
    htmlFacts(rows),
    text.description === ""
      ? ""
      : htmlQuote(copy.uscisSays, text.description, facts.inEnglish ? { lang: "en" } : {}),
    text.fallbackToEnglish ? htmlNote(copy.fallbackNote) : "",
    facts.original && copy.translationNote
      ? htmlQuote(copy.translationNote, `${facts.original.title}\n${facts.original.description}`, {
          lang: "en",
          small: true,
        })
      : "",
  ].join("");

  return composeEmail({
    language: input.language,
    partnerName: facts.partner,
    logoUrl: input.partner.logoUrl,
    subject: copy.subject[input.kind](facts.receipt, oneLine(text.title)),
    bodyHtml,
    textLines: [
      hello,
      "",
      headline,
      "",
      `    ${oneLine(text.title)}`,
      "",
      ...rows.map(([label, value]) => `${label}: ${value}`),
      ...(text.description === "" ? [] : ["", `${copy.uscisSays}:`, text.description]),
      ...(text.fallbackToEnglish ? ["", copy.fallbackNote] : []),
      ...(facts.original && copy.translationNote
        ? ["", copy.translationNote, facts.original.title, facts.original.description]
        : []),
    ],
    preheader: `${oneLine(text.title)} · ${facts.receipt}`,
    footer: copy.footer(facts.partner),
  });
}

/**
 * The WhatsApp template bodies operators register with Meta (through Twilio's Content
 * Template Builder), one per language, as a Utility template. statusWhatsApp fills them:
 *   {{1}} the partner's name, {{2}} the receipt number, {{3}} the status title,
 *   {{4}} a short description (or the date when there is none).
 * Meta refuses a body that starts or ends with a placeholder or puts two side by side, and
 * Twilio's error list says a body may not hold a line break, hence one line of fixed text
 * around every placeholder.
 */
export const WhatsAppTemplateBodies: Readonly<Record<Language, string>> = {
  en:
    "Hello! {{1}} has news about your USCIS case {{2}}. Status: {{3}}. Details: {{4}} " +
    "You can always check the official status at uscis.gov.",
  es:
    "¡Hola! {{1}} tiene novedades sobre su caso {{2}} de USCIS. Estado: {{3}}. Detalles: {{4}} " +
    "Siempre puede consultar el estado oficial en uscis.gov.",
  pt:
    "Olá! {{1}} tem novidades sobre seu caso {{2}} no USCIS. Status: {{3}}. Detalhes: {{4}} " +
    "Você pode consultar o status oficial a qualquer momento em uscis.gov.",
};

/** WhatsApp's limit for a message body, and our budget for the free text. */
export const WhatsAppTextMax = 1024;

/** Twilio's limit for one content variable's value. */
const VariableMax = 255;

/** The description in {{4}}: enough to say what happened, short enough to leave room. */
const VariableDescriptionMax = 240;

/** Filled in where a value is missing: Twilio rejects empty variables. */
const MissingValue = "-";

function templateVariable(value: string | null): string {
  const flat = shorten(oneLine(value ?? ""), VariableMax);
  return flat === "" ? MissingValue : flat;
}

function shortDescription(facts: StatusFacts): string | null {
  const description = oneLine(facts.text.description);
  if (description === "") return facts.date;
  const short = shorten(description, VariableDescriptionMax);
  return facts.date && !short.includes(facts.date) ? `${facts.date}: ${short}` : short;
}

/** The WhatsApp message: template variables, and a free text for when no template is set. */
export function statusWhatsApp(
  input: StatusMessageInput,
  options: StatusMessageOptions = {},
): { variables: Record<string, string>; text: string } {
  const facts = gatherFacts(input, options);
  const { copy, text } = facts;

  const variables = {
    "1": templateVariable(facts.partner),
    "2": templateVariable(facts.receipt),
    "3": templateVariable(text.title),
    "4": templateVariable(shortDescription(facts)),
  };

  const heading = [
    `*${facts.partner}*`,
    copy.headline[input.kind](facts.partner),
    `*${oneLine(text.title)}*`,
    "",
    ...factRows(facts).map(([label, value]) => `${label}: ${oneLine(value)}`),
  ].join("\n");
  const tail = text.fallbackToEnglish ? `\n\n${copy.fallbackNote}` : "";
  const says =
    facts.original && copy.translationTag
      ? `${copy.uscisSays} (${copy.translationTag}): `
      : `${copy.uscisSays}: `;

  const room = WhatsAppTextMax - heading.length - tail.length - says.length - 2;
  const description = oneLine(text.description);
  const body = description === "" || room < 40 ? "" : `\n\n${says}${shorten(description, room)}`;

  return { variables, text: shorten(`${heading}${body}${tail}`, WhatsAppTextMax) };
}
