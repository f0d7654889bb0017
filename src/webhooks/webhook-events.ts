import { toCaseSummary, toObservedStatus } from "../cases/cases.mapper.ts";
import type { CaseSummaryRow } from "../cases/cases.queries.ts";
import type { OnCheckFailing } from "../checker/checker.ts";
import type { NotificationContext } from "../checker/notifications.ts";
import { toIso } from "../clock.ts";
import type { Executor } from "../db/connection.ts";
import { emitEvent } from "../events/events.ts";
import type { OutboxJobRow } from "../outbox/outbox.queries.ts";
import { toUser } from "../users/users.mapper.ts";
import type { UserRow } from "../users/users.queries.ts";
import { findCaseSummary, findStatusUpdateById } from "./webhooks.queries.ts";

/**
 * What each event carries (API.md section 5), built inside the transaction that makes the
 * change, so `data` is exactly what was committed and nothing is emitted for a rollback.
 */

type CaseData = ReturnType<typeof toCaseSummary> & { user_id: number };

function caseData(row: CaseSummaryRow): CaseData {
  return { ...toCaseSummary(row), user_id: row.case.userId };
}

export function emitUserEvent(
  tx: Executor,
  type: "user.created" | "user.updated" | "user.deleted" | "user.email_verified",
  user: UserRow,
  now: number,
): void {
  emitEvent(tx, { clientId: user.clientId, type, data: toUser(user), now });
}

/** Only when something a partner can see changed: a PUT that repeats the user says nothing. */
export function emitUserUpdated(tx: Executor, before: UserRow, after: UserRow, now: number): void {
  const { updated_at: _before, ...was } = toUser(before);
  const { updated_at: _after, ...is } = toUser(after);
  if (JSON.stringify(was) === JSON.stringify(is)) return;
  emitUserEvent(tx, "user.updated", after, now);
}

/** `case.deleted` is emitted before the row goes, in the same transaction that deletes it. */
export function emitCaseEvent(
  tx: Executor,
  type: "case.created" | "case.deleted",
  caseId: number,
  now: number,
): void {
  const row = findCaseSummary(tx, caseId);
  if (!row) return;
  emitEvent(tx, { clientId: row.clientId, type, data: caseData(row), now });
}

/**
 * For each new status update, from inside the checker's transaction. The case row still
 * points at its previous update and the receipt at its previous check until the checker
 * finishes the receipt, so the summary is taken from the update itself: this is what the case
 * looks like once the transaction commits, and the case is the one the checker read in this
 * same transaction, so nothing needs reading again. A first
 * observation (`initial`) is reported as `case.status_changed` too, from no status to one;
 * `status_update.kind` tells them apart.
 */
export function emitStatusEvent(tx: Executor, context: NotificationContext): void {
  const { statusUpdate } = context;
  const after: CaseSummaryRow = {
    case: { ...context.case, checkError: null },
    lastChecked: statusUpdate.timestamp,
    formType: statusUpdate.formType,
    statusCode: statusUpdate.statusCode,
    statusCategory: statusUpdate.category,
    statusUpdatedAt: statusUpdate.timestamp,
    updateCount: context.updateCount,
  };
  emitEvent(tx, {
    clientId: context.client.id,
    type: statusUpdate.kind === "record_updated" ? "case.record_updated" : "case.status_changed",
    data: { case: caseData(after), status_update: toObservedStatus(statusUpdate) },
    now: statusUpdate.timestamp,
  });
}

/**
 * The checker's hook, called once when a receipt is flagged: one event per case that watches
 * it, each to its own partner. The source's own error text stays in our logs; it can name
 * hosts and internals that are none of a partner's business.
 */
export const emitCheckFailing: OnCheckFailing = (tx, event) => {
  for (const watcher of event.watchers) {
    const row = findCaseSummary(tx, watcher.case.id);
    if (!row) continue;
    emitEvent(tx, {
      clientId: watcher.client.id,
      type: "case.check_failing",
      data: {
        case: caseData(row),
        check: {
          consecutive_failures: event.consecutiveFailures,
          failing_since: toIso(event.failingSince),
        },
      },
      now: event.failingSince,
    });
  }
};

/** An e-mail or WhatsApp message about a status update that will not be delivered. */
export function emitNotificationFailed(tx: Executor, job: OutboxJobRow, now: number): void {
  if (job.channel === "webhook" || job.statusUpdateId === null) return;
  const statusUpdate = findStatusUpdateById(tx, job.statusUpdateId);
  const row = statusUpdate ? findCaseSummary(tx, statusUpdate.caseId) : undefined;
  if (!statusUpdate || !row) return;
  emitEvent(tx, {
    clientId: row.clientId,
    type: "notification.failed",
    data: {
      case: caseData(row),
      status_update: toObservedStatus(statusUpdate),
      notification: { channel: job.channel, attempts: job.attempts, error: job.lastError },
    },
    now,
  });
}
