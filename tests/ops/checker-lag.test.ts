/**
 * The checker's lag as /health and /metrics report it: the same answer as reading every
 * receipt, found by walking the due part of receipts_due only.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { checkerLag, checkerLagQuery } from "../../src/ops/checker-lag.queries.ts";
import { createPartnersService } from "../../src/partners/partners.service.ts";
import { testApp } from "../helpers/app.ts";

const Minute = 60_000;

describe("checker lag", () => {
  test("walks receipts_due over the due entries instead of scanning receipts", () => {
    const t = testApp();
    const { sql, params } = checkerLagQuery(t.db).getQuery();
    const plan = t.database.sqlite
      .query(`EXPLAIN QUERY PLAN ${sql}`)
      .all(...(params.map((p) => (p && typeof p === "object" ? t.clock.now() : p)) as never[]))
      .map((row) => (row as { detail: string }).detail);
    // Covering since receipts_due also holds the receipt number (migration 0003).
    expect(plan[0]).toMatch(
      /^SEARCH receipts USING (COVERING )?INDEX receipts_due \(priority=\? AND next_check_at<\?\)$/,
    );
    expect(plan.join("\n")).not.toMatch(/SCAN receipts|TEMP B-TREE/);
  });

  test("is what reading every receipt and its watchers says", () => {
    const t = testApp();
    const partners = createPartnersService(t.db, t.clock);
    const clientIds = [t.createPartner("Acme").id, t.createPartner("Disabled Co").id];
    partners.disable(clientIds[1]!);
    const sqlite = t.database.sqlite;
    const now = t.clock.now();

    const world = fc.record({
      users: fc.array(fc.record({ client: fc.nat(1), active: fc.boolean() }), {
        minLength: 1,
        maxLength: 6,
      }),
      receipts: fc.array(
        fc.record({
          priority: fc.boolean(),
          offsetMinutes: fc.integer({ min: -120, max: 120 }),
          watchers: fc.array(fc.record({ user: fc.nat(5), active: fc.boolean() }), {
            maxLength: 3,
          }),
        }),
        { maxLength: 12 },
      ),
    });

    fc.assert(
      fc.property(world, (w) => {
        sqlite.run("DELETE FROM cases");
        sqlite.run("DELETE FROM receipts");
        sqlite.run("DELETE FROM users");
        const userIds = w.users.map((user, i) => {
          const row = sqlite
            .query(
              `INSERT INTO users (client_id, email, status, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?) RETURNING id`,
            )
            .get(
              clientIds[user.client]!,
              `u${i}@example.com`,
              user.active ? "active" : "disabled",
              now,
              now,
            ) as {
            id: number;
          };
          return row.id;
        });
        let expectedOldest: number | null = null;
        let expectedDue = 0;
        let caseNumber = 0;
        w.receipts.forEach((receipt, i) => {
          const number = `EAC${String(9_000_000_000 + i)}`;
          const nextCheckAt = now + receipt.offsetMinutes * Minute;
          sqlite
            .query(
              "INSERT INTO receipts (receipt_number, next_check_at, priority, created_at) " +
                "VALUES (?, ?, ?, ?)",
            )
            .run(number, nextCheckAt, receipt.priority ? 1 : 0, now);
          let watched = false;
          const seen = new Set<number>();
          for (const watcher of receipt.watchers) {
            const userIndex = watcher.user % w.users.length;
            if (seen.has(userIndex)) continue;
            seen.add(userIndex);
            caseNumber += 1;
            sqlite
              .query(
                `INSERT INTO cases (user_id, receipt_number, user_case_id, active, created_at,
                   updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
              )
              .run(
                userIds[userIndex]!,
                number,
                `FLOW${String(caseNumber).padStart(7, "0")}`,
                watcher.active ? 1 : 0,
                now,
                now,
              );
            const user = w.users[userIndex]!;
            watched ||= watcher.active && user.active && user.client === 0;
          }
          if (watched && nextCheckAt <= now) {
            expectedDue += 1;
            expectedOldest = Math.min(expectedOldest ?? nextCheckAt, nextCheckAt);
          }
        });
        expect(checkerLag(t.db, now)).toEqual({
          lagMs: expectedOldest === null ? 0 : now - expectedOldest,
          dueReceipts: expectedDue,
        });
      }),
      { numRuns: 150 },
    );
  });

  test("/health shows a new case's receipt waiting while no tick runs", async () => {
    const t = testApp();
    const acme = t.createPartner();
    const user = await t.call("POST", "/v1/users", {
      as: acme,
      body: { email: "ana@example.com" },
    });
    const added = await t.call("POST", `/v1/users/${user.json.id}/cases`, {
      as: acme,
      body: { receipt_number: "EAC9999103403" },
    });
    expect(added.status).toBe(201);

    t.clock.advance(20 * Minute);
    const behind = await t.call("GET", "/health");
    expect(behind.json.checker).toMatchObject({ lag_seconds: 20 * 60, due_receipts: 1 });
    expect(behind.json.status).toBe("degraded");

    await t.checker.tick();
    const caughtUp = await t.call("GET", "/health");
    expect(caughtUp.json.checker).toMatchObject({ lag_seconds: 0, due_receipts: 0 });
  });
});
