import type { Language } from "../messages/language.ts";

/** A rendered e-mail, as the outbox stores it and the e-mail sender hands it to Resend. */
export interface EmailMessage {
  to: string;
  subject: string;
  html: string;
  text: string;
}

/**
 * A WhatsApp message in both of the forms Twilio may need: the approved template's variables
 * (business-initiated messages outside the 24-hour window need a template) and the free text
 * used when no template is configured for the language.
 */
export interface WhatsAppMessage {
  /** E.164, without the "whatsapp:" prefix. */
  to: string;
  language: Language;
  /** Template variables by position ("1", "2", ...); never empty strings. */
  variables: Record<string, string>;
  text: string;
}

/** What one delivery attempt came to, as the outbox needs to know it. */
export type DeliveryResult =
  | { outcome: "sent"; providerMessageId?: string }
  /**
   * Worth trying again later: rate limits, 5xx, network. `sendStartedAt` keeps an interrupted
   * request's start, so the next attempt looks for its message before sending another.
   */
  | {
      outcome: "retry";
      error: string;
      retryAfterMs?: number;
      sendStartedAt?: number;
      /**
       * The request may have reached the provider though no answer said so (a timeout, a
       * reset, a 5xx): a WhatsApp retry must look for the message before sending another.
       */
      mayHaveLanded?: boolean;
    }
  /** Trying again would not help. `optedOut` turns the user's WhatsApp off. */
  | { outcome: "failed"; error: string; optedOut?: boolean }
  /** Not sent on purpose, such as no provider configured; the message went to the log. */
  | { outcome: "skipped"; reason: string };

export interface EmailSender {
  /** `secrets` (a sign-in code, a link's token) may be sent but never written to a log. */
  send(message: EmailMessage, idempotencyKey: string, secrets?: string[]): Promise<DeliveryResult>;
  /** The most it sends a second, when it paces itself: a run takes no more than fit a lease. */
  readonly ratePerSecond?: number;
}

export interface WhatsAppSender {
  send(message: WhatsAppMessage, idempotencyKey: string): Promise<DeliveryResult>;
  /**
   * The SIDs of messages the provider holds that may be this one: to its number, from our
   * sender, created within `window` (epoch ms, ends included) and, for free text, with its
   * text; oldest first. For a send whose answer was lost, so an answer must be certain: any
   * doubt (no answer, an error, more messages than it reads) comes back as "retry".
   */
  findSent(message: WhatsAppMessage, window: { from: number; until: number }): Promise<Lookup>;
}

export type Lookup = { outcome: "listed"; sids: string[] } | { outcome: "retry"; error: string };

/** The body of a webhook delivery, as API.md section 5 gives it. */
export interface WebhookEvent {
  id: string;
  type: string;
  created_at: string;
  data: Record<string, unknown>;
}

export interface WebhookDelivery {
  webhookId: number;
  jobId: number;
  /** 1 for the first try; the same event id goes out on every one. */
  attempt: number;
  event: WebhookEvent;
}

export interface WebhookSender {
  send(delivery: WebhookDelivery): Promise<DeliveryResult>;
}
