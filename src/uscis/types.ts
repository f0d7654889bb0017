/** One history line as USCIS gives it, oldest first once sorted. */
export interface HistoryEntry {
  /** YYYY-MM-DD */
  date: string;
  description: string;
  descriptionEs: string | null;
}

/** What one successful look-up of a receipt told us, already cleaned of HTML and entities. */
export interface Observation {
  receiptNumber: string;
  formType: string | null;
  statusTitle: string;
  statusDescription: string;
  statusTitleEs: string | null;
  statusDescriptionEs: string | null;
  /** UTC milliseconds, converted from USCIS's US Eastern wall time. */
  submittedAt: number | null;
  modifiedAt: number | null;
  history: HistoryEntry[];
}

export type SourceResult =
  | { kind: "found"; observation: Observation }
  /** USCIS does not recognise the receipt (or protects it); never a claim that it is wrong. */
  | { kind: "not_found" }
  /** USCIS says the receipt is malformed (422): our normalisation let something through. */
  | { kind: "invalid_receipt"; message: string }
  /** Over the per-second rate or the daily quota: stop asking for a while. */
  | { kind: "rate_limited"; reason: string }
  /** Down, timed out, refused our credentials, or answered something we cannot read. */
  | { kind: "unavailable"; reason: string };

export interface CaseStatusSource {
  readonly name: "simulator" | "torch";
  fetch(receiptNumber: string): Promise<SourceResult>;
}
