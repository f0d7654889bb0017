import type { Language } from "./language.ts";

/**
 * Folds line breaks, tabs and runs of spaces into single spaces. Subjects must be one line (a
 * line break in a header is how mail headers get injected) and WhatsApp refuses template
 * variables holding new lines, tabs or more than four spaces in a row.
 */
export const oneLine = (text: string) => text.replace(/\s+/g, " ").trim();

/**
 * Cuts a text to at most `max` UTF-16 units, at a word boundary when one is near, and marks
 * the cut with an ellipsis. Counting UTF-16 units overstates the length of text with emoji,
 * never understates it, so a limit kept here is kept by any provider.
 */
export function shorten(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 1) return "…".slice(0, max);
  let cut = text.slice(0, max - 1);
  const space = cut.lastIndexOf(" ");
  if (space >= max * 0.6) cut = cut.slice(0, space);
  // Never leave half of a surrogate pair behind.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut.trimEnd().replace(/[,;:]$/, "")}…`;
}

const Greetings: Record<Language, (name: string | null) => string> = {
  en: (name) => (name ? `Hello ${name},` : "Hello,"),
  es: (name) => (name ? `Hola, ${name}:` : "Hola:"),
  pt: (name) => (name ? `Olá, ${name}!` : "Olá!"),
};

/** The opening line of every e-mail; a blank name reads as no name. */
export function greeting(language: Language, name: string | null): string {
  const trimmed = name === null ? "" : oneLine(name);
  return Greetings[language](trimmed === "" ? null : trimmed);
}
