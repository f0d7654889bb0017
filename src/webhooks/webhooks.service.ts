import type { Clock } from "../clock.ts";
import type { Db } from "../db/connection.ts";
import { ApiError, notFound } from "../http/errors.ts";
import { decodeCursor, page, pageSize } from "../http/pagination.ts";
import type { ClientRow } from "../partners/partners.queries.ts";
import { newWebhookSecret } from "./signature.ts";
import { type GuardOptions, vetWebhookUrl } from "./ssrf-guard.ts";
import { toDelivery, toWebhook } from "./webhooks.mapper.ts";
import {
  deleteWebhook,
  findWebhook,
  insertWebhook,
  listDeliveries,
  listWebhooks,
  updateWebhook,
  type WebhookRow,
} from "./webhooks.queries.ts";
import type { WebhookCreateInput, WebhookUpdateInput } from "./webhooks.schemas.ts";

export interface WebhooksDeps {
  db: Db;
  clock: Clock;
  guard: GuardOptions;
}

export type WebhooksService = ReturnType<typeof createWebhooksService>;

/** `*` already means every event, so a list that holds it is just `*`. */
function normaliseEvents(events: string[] | undefined): string[] {
  if (!events || events.includes("*")) return ["*"];
  return [...new Set(events)];
}

export function createWebhooksService(deps: WebhooksDeps) {
  const { db, clock } = deps;

  function requireWebhook(client: ClientRow, webhookId: number): WebhookRow {
    const webhook = findWebhook(db, client.id, webhookId);
    if (!webhook) throw notFound("webhook");
    return webhook;
  }

  /**
   * The same guard runs again before every delivery; checking here as well tells the partner
   * at once, instead of through a delivery log full of refusals.
   */
  async function acceptableUrl(raw: string): Promise<string> {
    const vetted = await vetWebhookUrl(raw, deps.guard);
    if (!vetted.ok) {
      throw new ApiError("validation_error", `url ${vetted.reason}`, [
        { field: "url", issue: vetted.issue },
      ]);
    }
    vetted.url.hash = "";
    return vetted.url.href;
  }

  return {
    list(client: ClientRow, query: { limit?: string; cursor?: string }) {
      const limit = pageSize(query.limit);
      const rows = listWebhooks(db, client.id, { beforeId: decodeCursor(query.cursor), limit });
      const result = page(rows, limit);
      return { webhooks: result.items.map(toWebhook), next_cursor: result.nextCursor };
    },

    async create(client: ClientRow, input: WebhookCreateInput) {
      const url = await acceptableUrl(input.url);
      const secret = newWebhookSecret();
      const now = clock.now();
      const row = insertWebhook(db, {
        clientId: client.id,
        url,
        description: input.description?.trim() || null,
        events: normaliseEvents(input.events),
        active: input.active ?? true,
        secret,
        createdAt: now,
        updatedAt: now,
      });
      return { ...toWebhook(row), secret };
    },

    get(client: ClientRow, webhookId: number) {
      return toWebhook(requireWebhook(client, webhookId));
    },

    async update(client: ClientRow, webhookId: number, input: WebhookUpdateInput) {
      requireWebhook(client, webhookId);
      const url = input.url === undefined ? undefined : await acceptableUrl(input.url);
      const secret = input.rotate_secret ? newWebhookSecret() : undefined;
      // Looked up again after the DNS wait: the webhook may have gone meanwhile.
      requireWebhook(client, webhookId);
      const row = updateWebhook(db, webhookId, {
        ...(url !== undefined ? { url } : {}),
        ...(input.events !== undefined ? { events: normaliseEvents(input.events) } : {}),
        ...(input.description !== undefined
          ? { description: input.description?.trim() || null }
          : {}),
        // Whoever sets `active` decides now; the reason we once turned it off no longer holds.
        ...(input.active !== undefined ? { active: input.active, disabledReason: null } : {}),
        ...(secret !== undefined ? { secret } : {}),
        updatedAt: clock.now(),
      })!;
      return { ...toWebhook(row), ...(secret !== undefined ? { secret } : {}) };
    },

    remove(client: ClientRow, webhookId: number): void {
      requireWebhook(client, webhookId);
      // Its deliveries and queued events go with it (ON DELETE CASCADE).
      deleteWebhook(db, webhookId);
    },

    deliveries(client: ClientRow, webhookId: number, query: { limit?: string; cursor?: string }) {
      requireWebhook(client, webhookId);
      const limit = pageSize(query.limit);
      const rows = listDeliveries(db, webhookId, { beforeId: decodeCursor(query.cursor), limit });
      const result = page(rows, limit);
      return { deliveries: result.items.map(toDelivery), next_cursor: result.nextCursor };
    },
  };
}
