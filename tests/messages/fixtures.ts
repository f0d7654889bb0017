import { expect } from "bun:test";
import type { Language } from "../../src/messages/language.ts";
import type { StatusMessageInput, StatusTexts } from "../../src/messages/status-message.ts";
import { translateDescriptionPt } from "../../src/uscis/catalogue.ts";

export const AllLanguages: readonly Language[] = ["en", "es", "pt"];

export const Receipt = "EAC9999103403";

const ApprovedEn =
  "On May 4, 2026, we approved your Form I-765, Application for Employment Authorization, " +
  `Receipt Number ${Receipt}. We sent you an approval notice. Please follow the instructions ` +
  "in the notice.";

/** "Case Was Approved" as a StatusUpdate row carries it, with USCIS's Spanish and ours. */
export const ApprovedStatus: StatusTexts = {
  code: "Case Was Approved",
  description: ApprovedEn,
  codeEs: "Caso Fue Aprobado",
  descriptionEs:
    "El 4 de mayo de 2026, aprobamos su Formulario I-765, Solicitud de Autorización de " +
    `Empleo, Número de Recibo ${Receipt}. Le enviamos un aviso de aprobación.`,
  codePt: "Caso aprovado",
  descriptionPt: translateDescriptionPt(ApprovedEn) ?? ApprovedEn,
  category: "approved",
  date: null,
};

/** A title the catalogue has never seen: the row keeps the English in its Portuguese. */
export const UnknownStatus: StatusTexts = {
  code: "Case Was Sent To A Brand New Office Type",
  description: "We did something new with your case. Our records will show more soon.",
  codeEs: null,
  descriptionEs: null,
  codePt: "Case Was Sent To A Brand New Office Type",
  descriptionPt: "We did something new with your case. Our records will show more soon.",
  category: "unknown",
  date: null,
};

export function statusInput(overrides: Partial<StatusMessageInput> = {}): StatusMessageInput {
  return {
    language: "en",
    partner: { name: "Acme Immigration Law", logoUrl: "https://acme.example/logo.png" },
    userName: "Ana Souza",
    caseInfo: { receiptNumber: Receipt, description: "Ana's work permit", formType: "I-765" },
    kind: "status_changed",
    status: ApprovedStatus,
    ...overrides,
  };
}

// What UTF-8 read as Latin-1 (or Windows-1252) looks like: "ç" becomes "Ã§", "—" "â€”".
const Mojibake = /Ã[\u0080-\u00BF]|â€|Â[\u0080-\u00BF]|\uFFFD/;

/** The text survives a trip through UTF-8 bytes and holds no sign of a double encoding. */
export function expectCleanUtf8(text: string): void {
  const bytes = new TextEncoder().encode(text);
  const decoded = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  expect(decoded).toBe(text);
  expect(text).not.toMatch(Mojibake);
}

/** Every text part a message has, to check them all at once. */
export function allParts(message: Record<string, unknown>): string[] {
  return Object.values(message).flatMap((part) =>
    typeof part === "string" ? [part] : Object.values(part as Record<string, string>),
  );
}
