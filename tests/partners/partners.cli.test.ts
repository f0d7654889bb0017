import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPartnersService } from "../../src/partners/partners.service.ts";
import { bearer, createUser, signIn } from "../auth/sign-in.ts";
import { testApp } from "../helpers/app.ts";

const root = join(import.meta.dir, "..", "..");
const work = mkdtempSync(join(tmpdir(), "immigraflow-partner-cli-"));

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** `immigraflow ARGS` from the checkout, on its own database file, with a bare environment. */
async function cli(databasePath: string, ...args: string[]) {
  const child = Bun.spawn([process.execPath, "src/main.ts", ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", DATABASE_PATH: databasePath },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { stdout, stderr, code };
}

describe("partner enable", () => {
  test("undoes disable: credentials and checking come back, user tokens stay revoked", async () => {
    const t = testApp();
    const partners = createPartnersService(t.db, t.clock);
    const acme = t.createPartner();
    const userId = await createUser(t, acme, { email: "ana@example.com" });
    const added = await t.call("POST", `/v1/users/${userId}/cases`, {
      as: acme,
      body: { receipt_number: "EAC9999103403" },
    });
    expect(added.status).toBe(201);
    const { token } = await signIn(t, acme, "ana@example.com");

    partners.disable(acme.id);
    expect((await t.call("GET", "/v1/users", { as: acme })).status).toBe(401);
    expect((await t.call("GET", "/v1/users", { headers: bearer(token) })).status).toBe(401);
    expect((await t.checker.tick()).checked).toBe(0);

    partners.enable(acme.id);
    expect((await t.call("GET", "/v1/users", { as: acme })).status).toBe(200);
    expect((await t.call("GET", "/v1/users", { headers: bearer(token) })).status).toBe(401);
    expect((await t.checker.tick()).checked).toBe(1);
    const again = await signIn(t, acme, "ana@example.com");
    expect((await t.call("GET", "/v1/users", { headers: bearer(again.token) })).status).toBe(200);
  });

  test("enabling an active partner changes nothing; an unknown id is an error", () => {
    const t = testApp();
    const partners = createPartnersService(t.db, t.clock);
    const acme = t.createPartner();
    const before = partners.list()[0];
    t.clock.advance(60_000);
    expect(partners.enable(acme.id)).toEqual(before!);
    expect(() => partners.enable(999)).toThrow("no partner with id 999");
  });

  test("the CLI lists it, shows it in --help and turns a partner back on", async () => {
    const databasePath = join(work, "cli.db");
    const created = await cli(
      databasePath,
      ...["partner", "create", "--name", "Acme", "--email", "ops@acme.example", "--json"],
    );
    expect(created.code).toBe(0);
    const { id } = JSON.parse(created.stdout.trim().split("\n").at(-1)!) as { id: number };
    const statusOf = async () => {
      const listed = await cli(databasePath, "partner", "list", "--json");
      return (JSON.parse(listed.stdout) as { id: number; status: string }[])[0]?.status;
    };

    expect((await cli(databasePath, "partner", "disable", String(id))).code).toBe(0);
    expect(await statusOf()).toBe("disabled");
    const enabled = await cli(databasePath, "partner", "enable", String(id));
    expect(enabled.code).toBe(0);
    expect(enabled.stdout).toContain(`Partner ${id} is enabled`);
    expect(await statusOf()).toBe("active");

    const unknown = await cli(databasePath, "partner", "enable", "999");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no partner with id 999");
    expect((await cli(databasePath, "partner", "enable")).code).toBe(2);
    expect((await cli(databasePath, "partner", "--help")).stdout).toContain("partner enable ID");
    expect((await cli(databasePath, "--help")).stdout).toMatch(/partner enable ID +undo/);
  }, 30_000);
});

describe("partner commands that take an ID", () => {
  test("a malformed ID is named as invalid and nothing changes", async () => {
    const databasePath = join(work, "ids.db");
    const created = await cli(
      databasePath,
      ...["partner", "create", "--name", "Acme", "--email", "ops@acme.example", "--json"],
    );
    expect(created.code).toBe(0);
    const listed = async () => (await cli(databasePath, "partner", "list", "--json")).stdout;
    const before = await listed();

    // "-1" never gets here: the argument parser takes it for an unknown option.
    const malformed = ["abc", "1e0", "0x1", "0", "1.0", " 1", "99999999999999999999"];
    for (const action of ["enable", "disable", "rotate-secret"]) {
      for (const raw of action === "enable" ? malformed : ["abc"]) {
        const res = await cli(databasePath, "partner", action, raw);
        expect(res.code, `${action} ${raw}`).toBe(2);
        expect(res.stderr.trim()).toStartWith(`error: invalid ID: ${raw}`);
        expect(res.stdout).toBe("");
      }
      const missing = await cli(databasePath, "partner", action);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain(`partner ${action} needs an ID`);
    }
    expect(await listed()).toBe(before);
  }, 120_000);
});

describe("partner create", () => {
  test("a name with a line break or a control character is refused; nothing is made", async () => {
    const databasePath = join(work, "names.db");
    for (const name of ["Evil\nSubject: x", "Tab\there", "Acme\u2028Co", "Left\u202Eright"]) {
      const refused = await cli(
        databasePath,
        "partner",
        "create",
        "--name",
        name,
        "--email",
        "o@e.example",
      );
      expect(refused.code, JSON.stringify(name)).toBe(2);
      expect(refused.stderr).toContain("--name must be one line of plain text");
    }
    const listed = await cli(databasePath, "partner", "list", "--json");
    expect(JSON.parse(listed.stdout)).toEqual([]);
  });

  test("a name is stored in NFC, as the API stores names", async () => {
    const databasePath = join(work, "nfc.db");
    const created = await cli(
      databasePath,
      "partner",
      "create",
      "--name",
      "Cafe\u0301 Law",
      "--email",
      "o@e.example",
    );
    expect(created.code, created.stderr).toBe(0);
    const listed = await cli(databasePath, "partner", "list", "--json");
    expect(JSON.parse(listed.stdout)).toMatchObject([{ name: "Caf\u00e9 Law" }]);
  });
});
