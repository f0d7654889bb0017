import { afterEach, describe, expect, test } from "bun:test";
import { Approved, ClientSecret, type TorchSetup, torchSetup } from "./torch-setup.ts";

let setup: TorchSetup;
const receipt = Approved.receiptNumber;

afterEach(async () => {
  await setup?.close();
});

function issuedTokens(): string[] {
  return setup.fake.requests.log
    .map((request) => /^Bearer (.+)$/.exec(request.authorization ?? "")?.[1])
    .filter((token): token is string => token !== undefined);
}

describe("Torch client: secrets stay out of logs and URLs", () => {
  test("neither the client secret nor a token is logged, whatever happens", async () => {
    setup = torchSetup();
    await setup.source.fetch(receipt);
    setup.fake.setMode("unauthorized", { times: 1 });
    await setup.source.fetch(receipt);
    setup.fake.setMode("server_error", { times: 1 });
    await setup.source.fetch(receipt);
    setup.fake.expireTokens();
    setup.fake.refuseCredentials();
    await setup.source.fetch(receipt);

    const tokens = issuedTokens();
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    expect(setup.log.lines.length).toBeGreaterThan(0);
    const logged = JSON.stringify(setup.log.lines);
    expect(logged).not.toContain(ClientSecret);
    for (const token of tokens) expect(logged).not.toContain(token);
  });

  test("a refused token request logs its status, never its body", async () => {
    setup = torchSetup();
    setup.fake.refuseCredentials();
    await setup.source.fetch(receipt);
    const refusal = setup.log.lines.find((line) => line.event === "uscis.token");
    expect(refusal).toMatchObject({ outcome: "refused", status: 401 });
    expect(JSON.stringify(setup.log.lines)).not.toContain("invalid_client");
  });

  test("the secret travels only in the token request's body", async () => {
    setup = torchSetup();
    await setup.source.fetch(receipt);
    for (const request of setup.fake.requests.log) {
      expect(request.path + request.query).not.toContain(ClientSecret);
      expect(request.authorization ?? "").not.toContain(ClientSecret);
    }
  });

  test("the bearer token goes to the case endpoint only", async () => {
    setup = torchSetup();
    await setup.source.fetch(receipt);
    const tokenRequest = setup.fake.requests.log.find((request) => request.kind === "token");
    expect(tokenRequest?.authorization).toBeUndefined();
    const caseRequest = setup.fake.requests.log.find((request) => request.kind === "case_status");
    expect(caseRequest?.authorization).toStartWith("Bearer ");
  });

  test("wrong credentials are refused and no case call goes out", async () => {
    setup = torchSetup({ fake: { clientSecret: "a-different-secret" } });
    expect(await setup.source.fetch(receipt)).toEqual({
      kind: "unavailable",
      reason: "credentials refused",
    });
    expect(setup.fake.requests.caseStatus).toBe(0);
  });

  test("a case call without a token is refused by the fake as by Torch", async () => {
    setup = torchSetup();
    const response = await fetch(`${setup.fake.url}/case-status/${receipt}`);
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ code: 401, message: "Invalid Access Token" });
  });
});
