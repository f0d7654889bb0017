import { type Logger, maskEmail } from "../logger.ts";

export interface OutgoingEmail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** What the message is for, for the log: "verification", "login_code", "status_update". */
  purpose: string;
  /** Strings that must never reach a log line, such as the token inside a link. */
  secrets?: string[];
}

export interface Mailer {
  send(email: OutgoingEmail): Promise<{ delivered: boolean; reason?: string }>;
}

/**
 * With no e-mail provider configured, a message is written to the log instead, with its
 * secrets masked, so a laptop run shows what would have gone out. Nothing counts as sent.
 */
export function logMailer(logger: Logger): Mailer {
  return {
    async send(email) {
      const mask = (text: string) =>
        (email.secrets ?? []).reduce((out, secret) => out.replaceAll(secret, "[redacted]"), text);
      logger.info(
        {
          purpose: email.purpose,
          to: maskEmail(email.to),
          subject: email.subject,
          text: mask(email.text),
        },
        "e-mail not sent: no provider configured",
      );
      return { delivered: false, reason: "no provider configured" };
    },
  };
}
