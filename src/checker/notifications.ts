import type { NotifyStatus } from "../db/schema.ts";
import type { CaseRow, ClientRow, Executor, StatusUpdateRow, UserRow } from "./receipts.queries.ts";

export interface NotificationContext {
  /** Already inserted, so its id can key whatever the plan writes. */
  statusUpdate: StatusUpdateRow;
  case: CaseRow;
  user: UserRow;
  client: ClientRow;
  /** The case's status updates, this one included. */
  updateCount: number;
}

/** The notification fields a status update starts with. */
export interface NotifyPlan {
  notified: number;
  emailNotifyStatus: NotifyStatus;
  whatsappNotifyStatus: NotifyStatus;
  emailNotifyLastError: string | null;
  whatsappNotifyLastError: string | null;
}

/**
 * Decides, inside the transaction that writes a status update, how its people will be told.
 * It must be synchronous: bun:sqlite transactions are, and anything it writes (outbox jobs)
 * has to commit or roll back together with the update.
 */
export type PlanNotifications = (tx: Executor, context: NotificationContext) => NotifyPlan;

function emailSkipReason(user: UserRow): string {
  if (!user.notifyByEmail) return "not opted in";
  if (user.emailVerifiedAt === null) return "e-mail not verified";
  return "no provider configured";
}

function whatsappSkipReason(user: UserRow): string {
  if (!user.notifyByWhatsapp) return "not opted in";
  if (user.phone === null) return "no phone";
  return "no provider configured";
}

/** Until senders exist nothing is sent; each channel records why, as the API shows it. */
export const skipNotifications: PlanNotifications = (_tx, { user }) => ({
  notified: 0,
  emailNotifyStatus: "skipped",
  whatsappNotifyStatus: "skipped",
  emailNotifyLastError: emailSkipReason(user),
  whatsappNotifyLastError: whatsappSkipReason(user),
});
