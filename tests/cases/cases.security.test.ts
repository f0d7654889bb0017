import { beforeEach, describe, expect, test } from "bun:test";
import { type Credentials, countRows, type TestApp, testApp } from "../helpers/app.ts";

let t: TestApp;
let acme: Credentials;
let rival: Credentials;
let rivalUser: number;
let rivalCase: { id: number; user_case_id: string };

beforeEach(async () => {
  t = testApp();
  acme = t.createPartner("Acme Immigration Law");
  rival = t.createPartner("Rival Legal Group");
  rivalUser = (
    await t.call("POST", "/v1/users", { as: rival, body: { email: "rita@example.com" } })
  ).json.id;
  const created = await t.call("POST", `/v1/users/${rivalUser}/cases`, {
    as: rival,
    body: { receipt_number: "EAC9999103403" },
  });
  rivalCase = created.json.case;
});

describe("cases: another partner's cases do not exist", () => {
  test("every case route on another partner's user answers 404 and changes nothing", async () => {
    const base = `/v1/users/${rivalUser}/cases`;
    const attempts = [
      t.call("GET", base, { as: acme }),
      t.call("POST", base, { as: acme, body: { receipt_number: "LIN9999106498" } }),
      t.call("GET", `${base}/${rivalCase.id}`, { as: acme }),
      t.call("GET", `${base}/${rivalCase.user_case_id}`, { as: acme }),
      t.call("PUT", `${base}/${rivalCase.id}`, { as: acme, body: { active: false } }),
      t.call("DELETE", `${base}/${rivalCase.id}`, { as: acme }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(404);
      expect(res.json.error.code).toBe("not_found");
    }
    expect(countRows(t, "cases")).toBe(1);
    const still = await t.call("GET", `${base}/${rivalCase.id}`, { as: rival });
    expect(still.json.case.active).toBe(true);
  });

  test("a case id of another user, reached through one's own user, is 404", async () => {
    const mine = (
      await t.call("POST", "/v1/users", { as: acme, body: { email: "ana@example.com" } })
    ).json.id;
    const res = await t.call("GET", `/v1/users/${mine}/cases/${rivalCase.id}`, { as: acme });
    expect(res.status).toBe(404);
    const byFlow = await t.call("GET", `/v1/users/${mine}/cases/${rivalCase.user_case_id}`, {
      as: acme,
    });
    expect(byFlow.status).toBe(404);
  });

  test("no credentials and wrong credentials are 401", async () => {
    const path = `/v1/users/${rivalUser}/cases/${rivalCase.id}`;
    expect((await t.call("GET", path)).status).toBe(401);
    const wrong = await t.call("GET", path, {
      headers: { "x-api-key": rival.apiKey, "x-api-secret": acme.apiSecret },
    });
    expect(wrong.status).toBe(401);
  });
});
