import { expect, test } from "bun:test";
import { and, eq, inArray } from "drizzle-orm";
import { migrate, openDatabase } from "../../src/db/connection.ts";
import { outboxJobs } from "../../src/db/schema.ts";

function planOf(handle: ReturnType<typeof openDatabase>, query: { toSQL(): { sql: string } }) {
  const { sql } = query.toSQL();
  const placeholders = sql.split("?").length - 1;
  return handle.sqlite
    .query(`EXPLAIN QUERY PLAN ${sql}`)
    .all(...Array.from({ length: placeholders }, () => "x"))
    .map((row) => (row as { detail: string }).detail)
    .join("\n");
}

test("outbox_provider_message holds only jobs a provider named, and look-ups use it", () => {
  const handle = openDatabase(":memory:");
  migrate(handle);
  const { sql } = handle.sqlite
    .query("SELECT sql FROM sqlite_master WHERE name = 'outbox_provider_message'")
    .get() as { sql: string };
  // Every job starts without one: an entry for each was a write per job for nothing.
  expect(sql).toMatch(/WHERE .*provider_message_id.* is not null$/i);

  const byOne = handle.db
    .select()
    .from(outboxJobs)
    .where(and(eq(outboxJobs.channel, "whatsapp"), eq(outboxJobs.providerMessageId, "SM1")));
  const byMany = handle.db
    .select({ id: outboxJobs.id })
    .from(outboxJobs)
    .where(
      and(eq(outboxJobs.channel, "whatsapp"), inArray(outboxJobs.providerMessageId, ["A", "B"])),
    );
  expect(planOf(handle, byOne)).toContain("USING INDEX outbox_provider_message");
  expect(planOf(handle, byMany)).toContain("USING INDEX outbox_provider_message");
  handle.close();
});
