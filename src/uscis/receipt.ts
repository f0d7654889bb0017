/**
 * Receipt numbers as people type them: "eac-15-123-45678", pasted with non-breaking spaces,
 * Unicode dashes from a word processor, or full-width digits from a phone keyboard.
 */

export type ReceiptIssue = "required" | "length" | "format";

export type ReceiptResult =
  | { ok: true; receipt: string }
  | { ok: false; issue: ReceiptIssue; message: string };

const ReceiptLength = 13;

// Separators people put between the groups. NFKC has already turned full-width and small
// forms (U+FF0D, U+FE63, U+FF0E) into their plain versions; what is left are dashes (\p{Pd}),
// the minus sign, soft hyphen, zero-width characters (\p{Cf}), every kind of space (\p{Z}, \s),
// and dot-like marks.
const Separators = /[\s\p{Z}\p{Pd}\p{Cf}\u2212.\u00B7\u2022\u2024\u2027\u2219\u22C5\u30FB\u3002]/gu;

export function normalizeReceipt(input: unknown): ReceiptResult {
  if (typeof input !== "string") {
    return { ok: false, issue: "required", message: "receipt_number is required" };
  }
  const receipt = input.normalize("NFKC").toUpperCase().replace(Separators, "");
  if (receipt === "") {
    return { ok: false, issue: "required", message: "receipt_number is required" };
  }

  // Counted in code points so an emoji is one character, as the person sees it.
  const characters = [...receipt];
  if (characters.length !== ReceiptLength) {
    return {
      ok: false,
      issue: "length",
      message: `receipt_number must be ${ReceiptLength} characters, got ${characters.length}`,
    };
  }

  const problem = findFormatProblem(characters);
  if (problem) return { ok: false, issue: "format", message: problem };
  return { ok: true, receipt };
}

const Expected = "receipt_number must be 3 letters then 10 digits";

function findFormatProblem(characters: string[]): string | null {
  for (const [index, character] of characters.entries()) {
    const position = `(position ${index + 1})`;
    if (index < 3) {
      if (isLetter(character)) continue;
      return `${Expected}; found ${describe(character)} where a letter belongs ${position}`;
    }
    if (isDigit(character)) continue;
    if (character === "*" && index === 3) continue;
    if (character === "*") {
      return `${Expected}; "*" may only stand right after the 3 letters ${position}`;
    }
    const found = `found ${describe(character)} where a digit belongs ${position}`;
    return `${Expected}; ${found}${hint(character)}`;
  }
  return null;
}

function isLetter(character: string): boolean {
  return character >= "A" && character <= "Z";
}

function isDigit(character: string): boolean {
  return character >= "0" && character <= "9";
}

function describe(character: string): string {
  if (isLetter(character)) return "a letter";
  if (isDigit(character)) return "a digit";
  return `"${character}"`;
}

// The letters that stand in for digits on a form or a badly scanned notice.
const LookAlikes: Record<string, string> = { O: "0", I: "1", L: "1", S: "5", B: "8", Z: "2" };

function hint(character: string): string {
  const digit = LookAlikes[character];
  return digit ? `; the letter ${character} may be meant as the digit ${digit}` : "";
}
