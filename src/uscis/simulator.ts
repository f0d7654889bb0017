import type { Clock } from "../clock.ts";
import { lookupStatus } from "./catalogue.ts";
import { type DescriptionFacts, type DescriptionId, writeDescription } from "./descriptions.ts";
import { easternDay, parseEasternDateTime, TorchErrorBodies } from "./torch-wire.ts";
import type { CaseStatusSource, HistoryEntry, Observation, SourceResult } from "./types.ts";

/**
 * An in-process USCIS: every well-formed receipt tells a plausible, deterministic story, so the
 * whole product runs (and demos) with nothing configured.
 *
 * Timeline. The receipt number seeds everything: the form, the path (biometrics, a transfer,
 * an RFE, an interview for I-485 and N-400, approval or denial, card production and delivery)
 * and how long each step lasts. Durations are counted in "units" of twice the check interval
 * (CHECK_INTERVAL_MINUTES), and each step lasts 1 to 4 units with some jitter:
 *
 *   interval 360 min (default) -> unit 12 h: a case moves every half day to two days;
 *   interval 1 min (a demo)    -> unit 2 min: a case moves every few minutes.
 *
 * A story runs from "received" to its last step (2 to about 35 units) and rests there for 6
 * units; then it starts over as if filed anew (a simulator artefact: real cases do not loop), so
 * a long-running demo never runs out of movement. Each receipt starts its loop at its own
 * seed-derived phase, so receipts added together are at different steps. Same receipt, same
 * time, same answer.
 *
 * Special receipts: anything ending in 0000 is unknown (404), a malformed one is refused as
 * Torch does (422), and the sandbox staging receipts from the notes answer fixed 2023 data.
 */

export interface SimulatorOptions {
  clock: Clock;
  /** The checker's CHECK_INTERVAL_MINUTES, which sets the pace of the stories. */
  checkIntervalMinutes?: number;
}

export interface SimulatorSource extends CaseStatusSource {
  readonly name: "simulator";
  /** The same answer as fetch(), synchronously: for the simulator's HTTP server. */
  answer(receiptNumber: string): SourceResult;
}

export function createSimulatorSource(options: SimulatorOptions): SimulatorSource {
  const unitMs = 2 * (options.checkIntervalMinutes ?? 360) * 60_000;
  const answer = (receiptNumber: string) =>
    simulateCase(receiptNumber, options.clock.now(), unitMs);
  return {
    name: "simulator",
    answer,
    fetch: async (receiptNumber) => answer(receiptNumber),
  };
}

const ReceiptPattern = /^[A-Z]{3}(?:\d{10}|\*\d{9})$/;
// How long a finished story stays on its last step before it starts over.
const RestUnits = 6;

/** What the simulator answers for a receipt at an instant, with steps `unitMs` long. */
export function simulateCase(receipt: string, atMs: number, unitMs: number): SourceResult {
  if (!ReceiptPattern.test(receipt)) {
    return { kind: "invalid_receipt", message: TorchErrorBodies[422].message };
  }
  if (receipt.endsWith("0000")) return { kind: "not_found" };

  const staging = stagingCase(receipt);
  if (staging) return { kind: "found", observation: staging };

  const seed = hash(receipt);
  const form = chooseForm(receipt, seed);
  const steps = buildStory(form, mulberry32(seed));
  const timeline = placeSteps(steps, mulberry32(seed ^ 0x5bd1e995), unitMs);
  const cycleMs = (timeline.at(-1)?.offsetMs ?? 0) + RestUnits * unitMs;
  const phaseMs = (seed % 997) * (cycleMs / 997);
  const cycleStart = Math.floor((atMs + phaseMs) / cycleMs) * cycleMs - phaseMs;
  const elapsed = atMs - cycleStart;
  const reached = timeline.filter((step) => step.offsetMs <= elapsed);

  return {
    kind: "found",
    observation: observe(receipt, form, reached, cycleStart, seed),
  };
}

// ---- forms and stories --------------------------------------------------------------------

const FormNames: Record<string, string> = {
  "I-90": "Application to Replace Permanent Resident Card",
  "I-129F": "Petition for Alien Fiancé(e)",
  "I-130": "Petition for Alien Relative",
  "I-131": "Application for Travel Document",
  "I-140": "Immigrant Petition for Alien Worker",
  "I-485": "Application to Register Permanent Residence or Adjust Status",
  "I-539": "Application To Extend/Change Nonimmigrant Status",
  "I-751": "Petition to Remove Conditions on Residence",
  "I-765": "Application for Employment Authorization",
  "N-400": "Application for Naturalization",
};

// Online filing (IOE) only takes some forms; the National Benefits Center mostly handles
// family adjustment; the service centres see everything.
const FormsByPrefix: Record<string, string[]> = {
  IOE: ["I-765", "I-130", "N-400", "I-90", "I-131", "I-539"],
  MSC: ["I-485", "I-765", "I-131"],
  NBC: ["I-485", "I-765", "I-131"],
  YSC: ["I-485", "I-765"],
};
const AnyForm = ["I-130", "I-485", "I-765", "I-140", "I-129F", "I-751", "N-400", "I-131", "I-90"];

const CardForms = new Set(["I-90", "I-485", "I-751", "I-765"]);
const PetitionForms = new Set(["I-129F", "I-130", "I-140"]);

function chooseForm(receipt: string, seed: number): string {
  const forms = FormsByPrefix[receipt.slice(0, 3)] ?? AnyForm;
  return forms[seed % forms.length] ?? "I-130";
}

type StepKind =
  | "received"
  | "biometricsScheduled"
  | "fingerprintsTaken"
  | "transferred"
  | "activelyReviewed"
  | "rfeSent"
  | "rfeResponseReceived"
  | "interviewReady"
  | "interviewScheduled"
  | "interviewCompleted"
  | "noidSent"
  | "approved"
  | "denied"
  | "rejected"
  | "cardOrdered"
  | "cardMailed"
  | "cardPickedUp"
  | "cardDelivered"
  | "documentMailed";

interface Step {
  kind: StepKind;
  /** How long after the previous step this one happens, in units. */
  units: number;
}

function buildStory(form: string, random: () => number): Step[] {
  const steps: Step[] = [{ kind: "received", units: 0 }];
  const add = (kind: StepKind, units: number) => steps.push({ kind, units });

  if (random() < 0.03) {
    add("rejected", 2);
    return steps;
  }
  if (!PetitionForms.has(form)) {
    add("biometricsScheduled", 2);
    add("fingerprintsTaken", 3);
  }
  if (random() < 0.15) add("transferred", 2);
  add("activelyReviewed", 3);
  if (random() < 0.3) {
    add("rfeSent", 2);
    add("rfeResponseReceived", 4);
  }
  const interview = form === "N-400" || (form === "I-485" && random() < 0.6);
  if (interview) {
    add("interviewReady", 3);
    add("interviewScheduled", 2);
    add("interviewCompleted", 4);
  }

  const outcome = random();
  if (outcome < 0.04) {
    add("noidSent", 2);
    add("denied", 4);
    return steps;
  }
  if (outcome < 0.1) {
    add("denied", 3);
    return steps;
  }
  add("approved", 3);
  if (CardForms.has(form)) {
    add("cardOrdered", 1);
    add("cardMailed", 1);
    add("cardPickedUp", 1);
    add("cardDelivered", 2);
  } else if (form === "I-131") {
    add("documentMailed", 2);
  }
  return steps;
}

interface PlacedStep {
  kind: StepKind;
  offsetMs: number;
}

function placeSteps(steps: Step[], random: () => number, unitMs: number): PlacedStep[] {
  let offsetMs = 0;
  return steps.map((step) => {
    // 0.6 to 1.4 of the nominal length, so cases filed together do not move in lockstep.
    offsetMs += Math.round(step.units * unitMs * (0.6 + 0.8 * random()));
    return { kind: step.kind, offsetMs };
  });
}

// ---- wording ------------------------------------------------------------------------------

interface StepWording {
  title: string;
  sentences: DescriptionId[];
}

function wording(kind: StepKind, form: string, receipt: string): StepWording {
  const onlineFiling = receipt.startsWith("IOE");
  switch (kind) {
    case "received":
      return onlineFiling
        ? {
            title: "Case Was Received and A Receipt Notice Was Emailed",
            sentences: ["receivedEmailed", "followNotice", "contactCenter", "ifYouMove"],
          }
        : {
            title: "Case Was Received",
            sentences: ["received", "followNotice", "contactCenter", "ifYouMove"],
          };
    case "biometricsScheduled":
      return {
        title: "Fingerprint And Biometrics Appointment Was Scheduled",
        sentences: ["biometricsScheduled", "appointmentNoticeSent", "followNotice", "ifYouMove"],
      };
    case "fingerprintsTaken":
      return {
        title: "Case Was Updated To Show Fingerprints Were Taken",
        sentences: ["fingerprintsTaken", "ifYouMove"],
      };
    case "transferred":
      return {
        title: "Case Was Transferred And A New Office Has Jurisdiction",
        sentences: ["transferred", "transferNoticeSent", "followNotice", "ifYouMove"],
      };
    case "activelyReviewed":
      return {
        title: "Case Is Being Actively Reviewed By USCIS",
        sentences: ["activelyReviewed", "nothingOutstanding", "willContactYou", "ifYouMove"],
      };
    case "rfeSent":
      return {
        title: "Request for Additional Evidence Was Sent",
        sentences: [
          "rfeSent",
          "rfeExplains",
          "rfeNoActionUntil",
          "rfeFollowInstructions",
          "ifYouMove",
        ],
      };
    case "rfeResponseReceived":
      return {
        title: "Response To USCIS' Request For Evidence Was Received",
        sentences: ["rfeResponseReceived", "begunWorking", "ifYouMove"],
      };
    case "interviewReady":
      return {
        title: "Ready to Be Scheduled for An Interview",
        sentences: ["interviewReady", "willContactYou", "ifYouMove"],
      };
    case "interviewScheduled":
      return {
        title: "Interview Was Scheduled",
        sentences: ["interviewScheduled", "interviewNoticeMailed", "followNotice", "ifYouMove"],
      };
    case "interviewCompleted":
      return {
        title: "Interview Was Completed And My Case Must Be Reviewed",
        sentences: ["interviewCompleted", "willContactYou", "ifYouMove"],
      };
    case "noidSent":
      return {
        title: "Notice Of Intent To Deny Was Sent",
        sentences: ["noidSent", "followNotice", "ifYouMove"],
      };
    case "approved":
      return {
        title: "Case Was Approved",
        sentences: CardForms.has(form)
          ? ["approved", "approvalNoticeSent", "willMailCard", "ifYouMove"]
          : ["approved", "approvalNoticeSent", "followNotice", "ifYouMove"],
      };
    case "denied":
      return {
        title: "Case Was Denied",
        sentences: ["denied", "denialNoticeSent", "followNotice", "contactCenter"],
      };
    case "rejected":
      return {
        title: "Case Was Rejected Because I Did Not Sign My Form",
        sentences: ["rejectedUnsigned", "rejectionNoticeSent", "followNotice"],
      };
    case "cardOrdered":
      return {
        title: "New Card Is Being Produced",
        sentences: ["cardOrdered", "willMailCard", "ifYouMove"],
      };
    case "cardMailed":
      return {
        title: "Card Was Mailed To Me",
        sentences: ["cardMailed", "cardWithin30Days", "noCardBy", "ifYouMove"],
      };
    case "cardPickedUp":
      return {
        title: "Card Was Picked Up By The United States Postal Service",
        sentences: ["cardPickedUp", "trackingNumber", "trackingLookup"],
      };
    case "cardDelivered":
      return {
        title: "Card Was Delivered To Me By The Post Office",
        sentences: ["cardDelivered", "trackingNumber", "trackingLookup", "contactCenter"],
      };
    case "documentMailed":
      return {
        title: "Document Was Mailed To Me",
        sentences: ["documentMailed", "ifYouMove"],
      };
  }
}

function observe(
  receipt: string,
  form: string,
  reached: PlacedStep[],
  startMs: number,
  seed: number,
): Observation {
  const tracking = trackingNumber(seed);
  const written = reached.map((step) => {
    const at = startMs + step.offsetMs;
    const facts: DescriptionFacts = {
      date: easternDay(at),
      due: easternDay(at + 30 * 24 * 60 * 60 * 1000),
      form: `${form}, ${FormNames[form] ?? "Application"}`,
      receipt,
      tracking,
    };
    const { title, sentences } = wording(step.kind, form, receipt);
    return {
      at,
      title,
      date: facts.date,
      en: writeDescription(sentences, "en", facts),
      es: writeDescription(sentences, "es", facts),
    };
  });

  const current = written.at(-1);
  if (!current) throw new Error("a story always has its first step");
  const history: HistoryEntry[] = written.slice(0, -1).map((step) => ({
    date: step.date,
    description: step.en,
    descriptionEs: step.es,
  }));

  return {
    receiptNumber: receipt,
    formType: form,
    statusTitle: current.title,
    statusDescription: current.en,
    statusTitleEs: lookupStatus(current.title).titleEs ?? null,
    statusDescriptionEs: current.es,
    // Torch gives whole seconds.
    submittedAt: Math.floor(startMs / 1000) * 1000,
    modifiedAt: Math.floor(current.at / 1000) * 1000,
    history,
  };
}

function trackingNumber(seed: number): string {
  const digits = Math.floor(mulberry32(seed ^ 0x2545f491)() * 1e11);
  return `92055901537${String(digits).padStart(11, "0")}`;
}

// ---- sandbox staging receipts -------------------------------------------------------------

function range(prefix: string, from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`);
}

/** The staging receipts USCIS's sandbox answers for (shared/uscis-torch-notes.md). */
export const SandboxReceipts = {
  withHistory: [
    "EAC9999103403",
    "EAC9999103404",
    "EAC9999103405",
    "EAC9999103410",
    "EAC9999103411",
    "EAC9999103416",
    "EAC9999103419",
    "LIN9999106498",
    "LIN9999106499",
    "LIN9999106504",
    "LIN9999106505",
    "LIN9999106506",
    ...range("SRC", 9999102777, 9999102787),
    "SRC9999132710",
    "SRC9999132719",
  ],
  withoutHistory: [
    "EAC9999103400",
    "EAC9999103402",
    ...range("EAC", 9999103406, 9999103409),
    ...range("EAC", 9999103412, 9999103415),
    "EAC9999103420",
    "EAC9999103421",
    ...range("EAC", 9999103424, 9999103426),
    "EAC9999103428",
    "EAC9999103429",
    "EAC9999103431",
    "EAC9999103432",
    "LIN9999106501",
    "LIN9999106507",
    "SRC9999132694",
    "SRC9999132695",
    "SRC9999132706",
    "SRC9999132707",
  ],
} as const;

const WithHistory = new Set<string>(SandboxReceipts.withHistory);
const WithoutHistory = new Set<string>(SandboxReceipts.withoutHistory);

// The moment of the sandbox's published example answer; staging data does not move.
const StagingMoment = parseEasternDateTime("09-05-2023 14:28:46") ?? 0;
const StagingUnitMs = 3 * 24 * 60 * 60 * 1000;

function stagingCase(receipt: string): Observation | null {
  if (receipt === "EAC9999103403") return knownStaging(receipt, "approved", true);
  if (receipt === "EAC9999103402") return knownStaging(receipt, "approvalAffirmed", false);
  const withHistory = WithHistory.has(receipt);
  if (!withHistory && !WithoutHistory.has(receipt)) return null;

  // A story frozen somewhere along its way at the staging moment.
  const seed = hash(receipt);
  const form = receipt.startsWith("EAC") ? "I-130" : receipt.startsWith("LIN") ? "I-140" : "I-765";
  const story = buildStory(form, mulberry32(seed));
  const timeline = placeSteps(story, mulberry32(seed ^ 0x5bd1e995), StagingUnitMs);
  // At least two steps where the notes promise history, so there is something before "now".
  const fewest = withHistory ? 2 : 1;
  const reached = timeline.slice(0, fewest + (seed % Math.max(1, timeline.length - fewest)));
  const startMs = StagingMoment - (reached.at(-1)?.offsetMs ?? 0);
  const observation = observe(receipt, form, reached, startMs, seed);
  return withHistory ? observation : { ...observation, history: [] };
}

function knownStaging(
  receipt: string,
  kind: "approved" | "approvalAffirmed",
  withHistory: boolean,
): Observation {
  const facts: DescriptionFacts = {
    date: "2023-09-05",
    form: "I-130, Petition for Alien Relative",
    receipt,
  };
  const sentences: DescriptionId[] = [kind, "approvalNoticeSent", "followNotice", "ifYouMove"];
  const title = kind === "approved" ? "Case Was Approved" : "Case Approval Was Affirmed";
  const received: DescriptionId[] = ["received", "followNotice", "contactCenter", "ifYouMove"];
  return {
    receiptNumber: receipt,
    formType: "I-130",
    statusTitle: title,
    statusDescription: writeDescription(sentences, "en", facts),
    statusTitleEs: lookupStatus(title).titleEs ?? null,
    statusDescriptionEs: writeDescription(sentences, "es", facts),
    submittedAt: StagingMoment,
    modifiedAt: StagingMoment,
    // As in the notes' example answer: filed, approved and its history dated on one day.
    history: withHistory
      ? [
          {
            date: facts.date,
            description: writeDescription(received, "en", facts),
            descriptionEs: writeDescription(received, "es", facts),
          },
        ]
      : [],
  };
}

// ---- determinism --------------------------------------------------------------------------

/** FNV-1a: a stable 32-bit seed from the receipt's characters. */
function hash(text: string): number {
  let value = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    value ^= text.charCodeAt(i);
    value = Math.imul(value, 0x01000193) >>> 0;
  }
  return value >>> 0;
}

/** A small seeded generator, so a receipt's story never depends on Math.random. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
