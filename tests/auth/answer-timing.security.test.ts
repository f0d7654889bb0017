/**
 * Sign-in codes, wrong guesses and verification resends must not tell a known address from an
 * unknown one by time: not by their own answer, and not by the answer after them, which a
 * write done only for known addresses would hold up. Timing itself is too noisy to assert on a
 * shared machine (scripts/login-timing.ts measures it); what is asserted is the work: the same
 * answer, and one commit after the answer in both cases, which leaves nothing behind for an
 * unknown address.
 */
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FaultService, faultService, type Partner } from "../faults/harness.ts";

const work = mkdtempSync(join(tmpdir(), "immigraflow-answer-timing-"));
const opened: { close(): void }[] = [];

afterAll(() => {
  for (const handle of opened) handle.close();
  rmSync(work, { recursive: true, force: true });
});

/** The service on a file, with a second connection that sees each of its commits. */
function fileService(name: string) {
  const path = join(work, `${name}.db`);
  const svc = faultService({ databasePath: path });
  const observer = new Database(path, { readonly: true });
  opened.push(svc.database, observer);
  // data_version moves whenever another connection has committed since the last look.
  const version = () =>
    (observer.query("PRAGMA data_version").get() as { data_version: number }).data_version;
  return { svc, version };
}

const settled = () => new Promise((resolve) => setImmediate(resolve));

/** What the flow answered, without the parts that differ on every request. */
function comparable(answer: Awaited<ReturnType<FaultService["call"]>>) {
  const headers = [...answer.headers.keys()].filter(
    (name) => !["x-request-id", "date"].includes(name),
  );
  const body = { ...answer.json, error: answer.json?.error && { ...answer.json.error } };
  if (body.error) delete body.error.request_id;
  return { status: answer.status, headers: headers.sort(), body };
}

function everythingStored(svc: FaultService) {
  const read = (sql: string) => svc.sqlite.query(sql).all();
  return {
    clients: read("SELECT * FROM clients ORDER BY id"),
    loginCodes: read("SELECT * FROM login_codes ORDER BY id"),
    emailTokens: read("SELECT * FROM email_tokens ORDER BY id"),
    outbox: read("SELECT id, purpose FROM outbox_jobs ORDER BY id"),
    sequences: read("SELECT * FROM sqlite_sequence ORDER BY name"),
  };
}

type Flow = (
  svc: FaultService,
  partner: Partner,
  email: string,
) => ReturnType<FaultService["call"]>;

const flows: [string, Flow][] = [
  ["login-code", (svc, p, email) => svc.call("POST", "/v1/auth/login-code", p, { email })],
  [
    "verify with a wrong code",
    (svc, p, email) => svc.call("POST", "/v1/auth/verify", p, { email, code: "000000" }),
  ],
  [
    "resend-verification",
    (svc, p, email) => svc.call("POST", "/v1/users/resend-verification", p, { email }),
  ],
];

describe("known and unknown addresses cost the same", () => {
  for (const [name, flow] of flows) {
    test(`${name}: the same answer, then one commit each; nothing kept for nobody`, async () => {
      const { svc, version } = fileService(name.replaceAll(" ", "-"));
      const partner = svc.createPartner();
      const created = await svc.call("POST", "/v1/users", partner, { email: "ana@example.com" });
      expect(created.status).toBe(201);
      // A live code, so a wrong guess at the known address has something to count against.
      await svc.call("POST", "/v1/auth/login-code", partner, { email: "ana@example.com" });
      await settled();

      const runs = [];
      for (const email of ["ana@example.com", "nobody@example.com"]) {
        const stored = everythingStored(svc);
        const before = version();
        const answer = comparable(await flow(svc, partner, email));
        const committedByAnswer = version() !== before;
        await settled();
        runs.push({ email, answer, committedByAnswer, committed: version() !== before });
        if (email === "nobody@example.com") expect(everythingStored(svc)).toEqual(stored);
      }

      const [known, unknown] = runs;
      expect(unknown!.answer).toEqual(known!.answer);
      expect(unknown!.committedByAnswer).toBe(known!.committedByAnswer);
      expect(known!.committed).toBe(true);
      expect(unknown!.committed).toBe(true);
    });
  }

  test("the known address's write is really kept", async () => {
    const { svc } = fileService("kept");
    const partner = svc.createPartner();
    await svc.call("POST", "/v1/users", partner, { email: "ana@example.com" });
    const tokens = svc.count("SELECT count(*) AS n FROM email_tokens");
    await svc.call("POST", "/v1/auth/login-code", partner, { email: "ana@example.com" });
    await svc.call("POST", "/v1/users/resend-verification", partner, { email: "ana@example.com" });
    await settled();
    expect(svc.count("SELECT count(*) AS n FROM login_codes")).toBe(1);
    expect(svc.count("SELECT count(*) AS n FROM email_tokens")).toBe(tokens + 1);
    const guess = await svc.call("POST", "/v1/auth/verify", partner, {
      email: "ana@example.com",
      code: "000000",
    });
    await settled();
    // One wrong guess counted, unless 000000 was the code (one time in a million).
    const attempts = svc.count("SELECT attempts AS n FROM login_codes");
    expect(attempts).toBe(guess.status === 200 ? 0 : 1);
    expect(svc.logs.lines.filter((line) => line.level === "error" || line.level === 50)).toEqual(
      [],
    );
  });
});
