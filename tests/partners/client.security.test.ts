import { beforeEach, describe, expect, test } from "bun:test";
import { bearer, signIn } from "../auth/sign-in.ts";
import { type Credentials, countRows, type TestApp, testApp } from "../helpers/app.ts";

let t: TestApp;
let acme: Credentials;
let rival: Credentials;
let acmeUser: number;
let rivalUser: number;
let rivalCase: { id: number; user_case_id: string; receipt_number: string };

beforeEach(async () => {
  t = testApp();
  acme = t.createPartner("Acme Immigration Law");
  rival = t.createPartner("Rival Legal Group");
  acmeUser = (await t.call("POST", "/v1/users", { as: acme, body: { email: "ana@example.com" } }))
    .json.id;
  rivalUser = (
    await t.call("POST", "/v1/users", { as: rival, body: { email: "rita@example.com" } })
  ).json.id;
  rivalCase = (
    await t.call("POST", `/v1/users/${rivalUser}/cases`, {
      as: rival,
      body: { receipt_number: "EAC9999103403" },
    })
  ).json.case;
  await t.checker.tick();
});

/** Every back-office route, with a body that would pass validation where one is needed. */
const routes = (): [string, string, unknown?][] => [
  ["GET", "/v1/client"],
  ["PUT", "/v1/client/logo", { logo_url: "https://evil.example/logo.png" }],
  ["GET", "/v1/client/users"],
  ["POST", "/v1/client/users", { email: "mallory@example.com", email_verified: true }],
  ["GET", `/v1/client/users/${acmeUser}`],
  ["PUT", `/v1/client/users/${acmeUser}`, { name: "Hijacked", email_verified: true }],
  ["DELETE", `/v1/client/users/${acmeUser}`],
  ["POST", `/v1/client/users/${acmeUser}/resend-verification`],
  ["POST", `/v1/client/users/${acmeUser}/cases`, { receipt_number: "LIN9999106498" }],
  ["GET", "/v1/client/cases"],
  ["GET", `/v1/client/cases/${rivalCase.id}`],
];

/** Row counts and the fields a refused request might have touched. */
const snapshot = () => ({
  users: countRows(t, "users"),
  cases: countRows(t, "cases"),
  outbox: countRows(t, "outbox_jobs"),
  tokens: countRows(t, "email_tokens"),
  people: t.database.sqlite
    .query("SELECT id, email, name, status, email_verified_at FROM users ORDER BY id")
    .all(),
  caseStates: t.database.sqlite.query("SELECT id, active FROM cases ORDER BY id").all(),
  logos: t.database.sqlite.query("SELECT id, logo_url, updated_at FROM clients").all(),
});

describe("back office: credentials", () => {
  test("no credentials is 401 on every route, before the body is looked at", async () => {
    const before = snapshot();

    for (const [method, path] of routes()) {
      const res = await t.call(method, path, { body: { nonsense: true } });
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 401 });
      expect(res.json.error.code).toBe("unauthorized");
    }

    expect(snapshot()).toEqual(before);
  });

  test("a wrong secret, an unknown key, or a secret without a key is 401", async () => {
    const attempts: Record<string, string>[] = [
      { "x-api-key": acme.apiKey, "x-api-secret": rival.apiSecret },
      { "x-api-key": acme.apiKey, "x-api-secret": `${acme.apiSecret}x` },
      { "x-api-key": "ifk_000000000000000000000000", "x-api-secret": acme.apiSecret },
      { "x-api-secret": acme.apiSecret },
    ];
    const before = snapshot();

    for (const headers of attempts) {
      for (const [method, path, body] of routes()) {
        const res = await t.call(method, path, { headers, body });
        expect({ method, path, status: res.status }).toEqual({ method, path, status: 401 });
      }
    }

    expect(snapshot()).toEqual(before);
  });

  test("the publishable key alone is 403 on every route and changes nothing", async () => {
    const before = snapshot();

    for (const [method, path, body] of routes()) {
      const res = await t.call(method, path, { headers: { "x-api-key": acme.apiKey }, body });
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 403 });
      expect(res.json.error.code).toBe("forbidden");
    }

    expect(snapshot()).toEqual(before);
  });

  test("a signed-in user's token is 403 on every route and changes nothing", async () => {
    const { token } = await signIn(t, acme, "ana@example.com");
    const before = snapshot();

    for (const [method, path, body] of routes()) {
      const res = await t.call(method, path, { headers: bearer(token), body });
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 403 });
      expect(res.json.error.code).toBe("forbidden");
    }

    expect(snapshot()).toEqual(before);
    // The same token still opens the user's own routes, so the 403 above is about the route.
    expect((await t.call("GET", `/v1/users/${acmeUser}`, { headers: bearer(token) })).status).toBe(
      200,
    );
  });

  test("a disabled partner's credentials stop working", async () => {
    t.database.sqlite.run("UPDATE clients SET disabled_at = 1 WHERE id = ?", [acme.id]);
    expect((await t.call("GET", "/v1/client", { as: acme })).status).toBe(401);
  });

  test("GET /v1/client shows the key but never the secret or its hash", async () => {
    const res = await t.call("GET", "/v1/client", { as: acme });
    const hash = t.database.sqlite
      .query("SELECT secret_hash FROM clients WHERE id = ?")
      .get(acme.id) as { secret_hash: string };

    expect(res.json.api_key).toBe(acme.apiKey);
    expect(res.text).not.toContain(acme.apiSecret);
    expect(res.text).not.toContain(hash.secret_hash);
    expect(res.text).not.toContain(rival.apiKey);
  });
});

describe("back office: another partner's users and cases do not exist", () => {
  test("every route on another partner's user or case is 404, like a missing one", async () => {
    const missingUser = rivalUser + 1000;
    const attempts: [string, string, unknown?][] = [];
    for (const userId of [rivalUser, missingUser]) {
      attempts.push(
        ["GET", `/v1/client/users/${userId}`],
        ["PUT", `/v1/client/users/${userId}`, { name: "Hijacked", status: "disabled" }],
        ["PUT", `/v1/client/users/${userId}`, { email_verified: true }],
        ["DELETE", `/v1/client/users/${userId}`],
        ["POST", `/v1/client/users/${userId}/resend-verification`],
        ["POST", `/v1/client/users/${userId}/cases`, { receipt_number: "LIN9999106498" }],
      );
    }
    attempts.push(
      ["GET", `/v1/client/cases/${rivalCase.id}`],
      ["GET", `/v1/client/cases/${rivalCase.user_case_id}`],
      ["GET", `/v1/client/cases/${rivalCase.user_case_id.toLowerCase()}`],
      ["GET", `/v1/client/cases/${rivalCase.id + 1000}`],
      ["GET", "/v1/client/cases/FLOW0000000"],
    );
    const before = snapshot();

    const bodies = new Set<string>();
    for (const [method, path, body] of attempts) {
      const res = await t.call(method, path, { as: acme, body });
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 404 });
      expect(res.json.error.code).toBe("not_found");
      bodies.add(res.json.error.message);
    }

    // The message says which kind of thing is missing, never whose it is.
    expect([...bodies].sort()).toEqual(["case not found", "user not found"]);
    expect(snapshot()).toEqual(before);
    const still = await t.call("GET", `/v1/users/${rivalUser}/cases/${rivalCase.id}`, {
      as: rival,
    });
    expect(still.json.case.active).toBe(true);
  });

  test("a case of one's own user is reachable; the same id of another partner is not", async () => {
    const mine = await t.call("POST", `/v1/client/users/${acmeUser}/cases`, {
      as: acme,
      body: { receipt_number: "EAC9999103403" },
    });

    const own = await t.call("GET", `/v1/client/cases/${mine.json.case.id}`, { as: acme });
    const theirs = await t.call("GET", `/v1/client/cases/${rivalCase.id}`, { as: acme });

    expect(own.status).toBe(200);
    expect(own.json.case.user.id).toBe(acmeUser);
    expect(theirs.status).toBe(404);
  });

  test("filters cannot reach another partner's data", async () => {
    await t.call("POST", `/v1/client/users/${acmeUser}/cases`, {
      as: acme,
      body: { receipt_number: "LIN9999106498" },
    });
    const list = async (path: string) => {
      const res = await t.call("GET", path, { as: acme });
      expect(res.status).toBe(200);
      return res.json;
    };

    expect((await list(`/v1/client/cases?user_id=${rivalUser}`)).cases).toEqual([]);
    expect(
      (await list(`/v1/client/cases?receipt_number=${rivalCase.receipt_number}`)).cases,
    ).toEqual([]);
    expect((await list("/v1/client/cases?category=approved")).cases).toEqual([]);
    expect((await list("/v1/client/cases?updated_since=2026-01-01T00:00:00Z")).cases).toEqual([]);
    const everything = await list("/v1/client/cases?limit=200");
    expect(everything.cases.map((c: any) => c.user.id)).toEqual([acmeUser]);
    expect((await list("/v1/client/users?email=rita@example.com")).users).toEqual([]);
    expect((await list("/v1/client/users?limit=200")).users.map((u: any) => u.id)).toEqual([
      acmeUser,
    ]);
  });

  test("a cursor does not open another partner's rows", async () => {
    const forged = Buffer.from(`v1:${rivalCase.id + 1}`).toString("base64url");

    const res = await t.call("GET", `/v1/client/cases?cursor=${forged}`, { as: acme });

    expect(res.status).toBe(200);
    expect(res.json.cases).toEqual([]);
  });

  test("an e-mail another partner uses touches only one's own users", async () => {
    const res = await t.call("POST", "/v1/client/users", {
      as: acme,
      body: { email: "rita@example.com", email_verified: true },
    });

    expect(res.status).toBe(201);
    const rita = await t.call("GET", `/v1/users/${rivalUser}`, { as: rival });
    expect(rita.json.email_verified_at).toBeNull();
  });
});

describe("back office: the logo", () => {
  test("javascript:, http:, data: and spaced URLs are refused; logo unchanged", async () => {
    await t.call("PUT", "/v1/client/logo", {
      as: acme,
      body: { logo_url: "https://acme.example/logo.png" },
    });
    const before = snapshot();

    for (const logo of [
      "javascript:alert(document.cookie)",
      "JavaScript:alert(1)//https://acme.example",
      "http://acme.example/logo.png",
      "data:image/svg+xml,<svg onload=alert(1)>",
      "https://acme.example/logo.png onerror=alert(1)",
      " https://acme.example/logo.png",
      "//acme.example/logo.png",
      "",
    ]) {
      const res = await t.call("PUT", "/v1/client/logo", { as: acme, body: { logo_url: logo } });
      expect({ logo, status: res.status }).toEqual({ logo, status: 400 });
      expect(res.json.error.details[0].field).toBe("logo_url");
    }

    expect(snapshot()).toEqual(before);
    const read = await t.call("GET", "/v1/client", { as: acme });
    expect(read.json.logo_url).toBe("https://acme.example/logo.png");
  });

  test("quotes and angle brackets in an https URL are stored percent-encoded", async () => {
    const res = await t.call("PUT", "/v1/client/logo", {
      as: acme,
      body: { logo_url: 'https://acme.example/"><script>x</script>.png' },
    });

    expect(res.status).toBe(200);
    expect(res.json.logo_url).toBe("https://acme.example/%22%3E%3Cscript%3Ex%3C/script%3E.png");
  });

  test("one partner's logo update leaves every other partner's logo alone", async () => {
    await t.call("PUT", "/v1/client/logo", {
      as: acme,
      body: { logo_url: "https://acme.example/logo.png" },
    });

    const res = await t.call("GET", "/v1/client", { as: rival });

    expect(res.json.logo_url).toBeNull();
    expect(res.json.id).toBe(rival.id);
  });

  test("unknown fields in the logo body are refused", async () => {
    const res = await t.call("PUT", "/v1/client/logo", {
      as: acme,
      body: { logo_url: "https://acme.example/logo.png", api_key: "ifk_mine" },
    });

    expect(res.status).toBe(400);
    expect(res.json.error.details[0]).toEqual({ field: "api_key", issue: "unknown_field" });
    expect((await t.call("GET", "/v1/client", { as: acme })).json.logo_url).toBeNull();
  });
});
