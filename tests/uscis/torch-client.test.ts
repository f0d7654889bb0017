import { afterEach, describe, expect, test } from "bun:test";
import { Approved, ClientId, ClientSecret, type TorchSetup, torchSetup } from "./torch-setup.ts";

let setup: TorchSetup;

afterEach(async () => {
  await setup?.close();
});

describe("Torch client: a case that exists", () => {
  test("answers the observation the API sent", async () => {
    setup = torchSetup();
    const result = await setup.source.fetch(Approved.receiptNumber);
    expect(result).toEqual({ kind: "found", observation: Approved });
    expect(setup.source.name).toBe("torch");
  });

  test("asks for a token with a form-encoded client-credentials body", async () => {
    setup = torchSetup();
    await setup.source.fetch(Approved.receiptNumber);
    const tokenRequest = setup.fake.requests.log.find((request) => request.kind === "token");
    expect(tokenRequest?.method).toBe("POST");
    expect(tokenRequest?.contentType).toStartWith("application/x-www-form-urlencoded");
    expect(tokenRequest?.form).toEqual({
      grant_type: "client_credentials",
      client_id: ClientId,
      client_secret: ClientSecret,
    });
    expect(tokenRequest?.query).toBe("");
  });

  test("sends the bearer token and asks for JSON", async () => {
    setup = torchSetup();
    await setup.source.fetch(Approved.receiptNumber);
    const caseRequest = setup.fake.requests.log.find((request) => request.kind === "case_status");
    expect(caseRequest?.authorization).toMatch(/^Bearer fake_[0-9a-f]{32}$/);
    expect(caseRequest?.accept).toBe("application/json");
    expect(caseRequest?.path).toBe("/case-status/EAC9999103403");
  });

  test("escapes the * receipt form in the path", async () => {
    setup = torchSetup();
    setup.fake.setCase("EAC*123456789", { ...Approved, receiptNumber: "EAC*123456789" });
    const result = await setup.source.fetch("EAC*123456789");
    expect(result.kind).toBe("found");
    const caseRequest = setup.fake.requests.log.find((request) => request.kind === "case_status");
    expect(caseRequest?.path).toBe("/case-status/EAC%2A123456789");
    expect(caseRequest?.receipt).toBe("EAC*123456789");
  });

  test("a trailing slash on the base URL does not double the slash", async () => {
    setup = torchSetup({ apiBaseUrl: (url) => `${url}/` });
    expect((await setup.source.fetch(Approved.receiptNumber)).kind).toBe("found");
  });

  test("every call counts against the daily quota", async () => {
    setup = torchSetup();
    await setup.source.fetch(Approved.receiptNumber);
    await setup.source.fetch("EAC1512345678");
    expect(setup.quota.used()).toBe(2);
    expect(setup.fake.requests.caseStatus).toBe(2);
  });
});

describe("Torch client: the token", () => {
  test("is fetched once and reused", async () => {
    setup = torchSetup();
    for (let i = 0; i < 3; i++) await setup.source.fetch(Approved.receiptNumber);
    expect(setup.fake.requests.token).toBe(1);
    expect(setup.fake.requests.caseStatus).toBe(3);
  });

  test("concurrent first calls share one token request", async () => {
    setup = torchSetup();
    const results = await Promise.all(
      Array.from({ length: 4 }, () => setup.source.fetch(Approved.receiptNumber)),
    );
    expect(results.map((result) => result.kind)).toEqual(["found", "found", "found", "found"]);
    expect(setup.fake.requests.token).toBe(1);
  });

  test("is renewed a minute before it expires, never used past that", async () => {
    setup = torchSetup();
    await setup.source.fetch(Approved.receiptNumber);

    setup.clock.advance((1799 - 61) * 1000);
    await setup.source.fetch(Approved.receiptNumber);
    expect(setup.fake.requests.token).toBe(1);

    setup.clock.advance(2000);
    await setup.source.fetch(Approved.receiptNumber);
    expect(setup.fake.requests.token).toBe(2);
    // Renewed before the fake would have refused it: no 401 along the way.
    expect(setup.fake.requests.log.filter((request) => request.status === 401)).toEqual([]);
  });

  test("expires_in as a number is read too", async () => {
    setup = torchSetup({ fake: { expiresInType: "number", tokenLifetimeSeconds: 600 } });
    await setup.source.fetch(Approved.receiptNumber);
    setup.clock.advance(530 * 1000);
    await setup.source.fetch(Approved.receiptNumber);
    expect(setup.fake.requests.token).toBe(1);
    setup.clock.advance(15 * 1000);
    await setup.source.fetch(Approved.receiptNumber);
    expect(setup.fake.requests.token).toBe(2);
  });

  test("a 401 gets a new token and one retry", async () => {
    setup = torchSetup();
    await setup.source.fetch(Approved.receiptNumber);
    setup.fake.setMode("unauthorized", { times: 1 });

    const result = await setup.source.fetch(Approved.receiptNumber);
    expect(result.kind).toBe("found");
    expect(setup.fake.requests.token).toBe(2);
    expect(setup.fake.requests.caseStatus).toBe(3);
    const [, refused, retried] = setup.fake.requests.log
      .filter((request) => request.kind === "case_status")
      .map((request) => request.authorization);
    expect(retried).not.toBe(refused);
  });

  test("a token the API forgot early is replaced", async () => {
    setup = torchSetup();
    await setup.source.fetch(Approved.receiptNumber);
    setup.fake.expireTokens();
    expect((await setup.source.fetch(Approved.receiptNumber)).kind).toBe("found");
    expect(setup.fake.requests.token).toBe(2);
  });

  test("a second 401 in a row is unavailable, with no third try", async () => {
    setup = torchSetup();
    setup.fake.setMode("unauthorized");
    const result = await setup.source.fetch(Approved.receiptNumber);
    expect(result).toEqual({
      kind: "unavailable",
      reason: "USCIS 401: access token refused twice",
    });
    expect(setup.fake.requests.caseStatus).toBe(2);
    expect(setup.fake.requests.token).toBe(2);
  });
});
