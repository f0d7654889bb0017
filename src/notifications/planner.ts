import type {
  NotificationContext,
  NotifyPlan,
  PlanNotifications,
} from "../checker/notifications.ts";
import type { Executor } from "../db/connection.ts";
import type { Logger } from "../logger.ts";
import {
  type StatusMessageInput,
  statusEmail,
  statusWhatsApp,
} from "../messages/status-message.ts";
import { reportUnknownTitle } from "../messages/unknown-titles.ts";
import { enqueue } from "../outbox/outbox.ts";
import { lookupStatus } from "../uscis/catalogue.ts";
import { emitStatusEvent } from "../webhooks/webhook-events.ts";

/** A record update (same title, dates or history moved) tells nobody unless asked to. */
const RecordUpdateReason = "record update: users are not told by default";

function emailSkipReason(user: NotificationContext["user"]): string | null {
  if (user.status !== "active") return "user disabled";
  if (!user.notifyByEmail) return "not opted in";
  if (user.emailVerifiedAt === null) return "e-mail not verified";
  return null;
}

function whatsappSkipReason(user: NotificationContext["user"]): string | null {
  if (user.status !== "active") return "user disabled";
  if (!user.notifyByWhatsapp) return "not opted in";
  if (user.phone === null) return "no phone";
  return null;
}

function messageInput(context: NotificationContext, kind: StatusMessageInput["kind"]) {
  const { statusUpdate, client, user } = context;
  return {
    language: user.preferredLanguage,
    partner: { name: client.name, logoUrl: client.logoUrl },
    userName: user.name,
    caseInfo: {
      receiptNumber: context.case.receiptNumber,
      description: context.case.description,
      formType: statusUpdate.formType,
    },
    kind,
    status: {
      code: statusUpdate.statusCode,
      description: statusUpdate.statusDescription,
      codeEs: statusUpdate.statusCodeEs,
      descriptionEs: statusUpdate.statusDescriptionEs,
      codePt: statusUpdate.statusCodePt,
      descriptionPt: statusUpdate.statusDescriptionPt,
      category: statusUpdate.category,
      date: null,
    },
  } satisfies StatusMessageInput;
}

/**
 * Decides who hears about a status update and writes their messages into the outbox, inside
 * the checker's transaction: the update and its messages commit together or not at all.
 */
export function createNotificationPlanner(logger: Logger): PlanNotifications {
  return (tx: Executor, context: NotificationContext): NotifyPlan => {
    const { statusUpdate, user } = context;
    // Titles the catalogue only guessed at (or not at all) are logged once, so it can grow.
    if (!lookupStatus(statusUpdate.statusCode).known) {
      reportUnknownTitle(logger, statusUpdate.statusCode);
    }
    // Partners hear of every update, record updates included, whatever users are told.
    emitStatusEvent(tx, context);
    if (statusUpdate.kind === "record_updated") {
      return {
        notified: 0,
        emailNotifyStatus: "skipped",
        whatsappNotifyStatus: "skipped",
        emailNotifyLastError: RecordUpdateReason,
        whatsappNotifyLastError: RecordUpdateReason,
      };
    }

    const input = messageInput(context, statusUpdate.kind);
    const origin = {
      purpose: "status_update" as const,
      userId: user.id,
      statusUpdateId: statusUpdate.id,
    };
    const emailSkip = emailSkipReason(user);
    if (!emailSkip) {
      const message = { to: user.email, ...statusEmail(input) };
      enqueue(tx, origin, { channel: "email", message }, statusUpdate.timestamp);
    }
    const whatsappSkip = whatsappSkipReason(user);
    if (!whatsappSkip && user.phone) {
      const message = {
        to: user.phone,
        language: user.preferredLanguage,
        ...statusWhatsApp(input),
      };
      enqueue(tx, origin, { channel: "whatsapp", message }, statusUpdate.timestamp);
    }
    return {
      notified: 0,
      emailNotifyStatus: emailSkip ? "skipped" : "pending",
      whatsappNotifyStatus: whatsappSkip ? "skipped" : "pending",
      emailNotifyLastError: emailSkip,
      whatsappNotifyLastError: whatsappSkip,
    };
  };
}
