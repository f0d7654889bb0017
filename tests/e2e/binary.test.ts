/**
 * The compiled executable, run the way an operator runs it: copied alone into a bare folder
 * (no node_modules, no drizzle/, no swagger-ui-dist beside it), configured by environment only,
 * and driven over HTTP with partner credentials made by its own CLI.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Version } from "../../src/version.ts";
import { type ResendFake, startResendFake } from "../fakes/resend-fake.ts";
import { startTorchFake, type TorchFake } from "../fakes/torch-fake.ts";
import {
  type BinaryProcess,
  copyBinaryTo,
  ensureBinary,
  type RunningServer,
  runBinary,
  startServer,
} from "../helpers/binary.ts";

const SandboxReceipt = "EAC9999103403";
const SandboxTitle = "Case Is Being Actively Reviewed By USCIS";
/** A documented sandbox receipt, which the built-in simulator also knows. */
const SimulatorReceipt = "EAC9999103403";

interface Partner {
  id: number;
  api_key: string;
  api_secret: string;
}

interface StatusUpdate {
  kind: string;
  status_code: string;
  category: string;
  form_type: string | null;
}

let work = "";
let binDir = "";
let binary = "";
const servers: BinaryProcess[] = [];
const fakes: (TorchFake | ResendFake)[] = [];

beforeAll(async () => {
  const built = await ensureBinary();
  work = mkdtempSync(join(tmpdir(), "immigraflow-e2e-"));
  binDir = join(work, "bin");
  mkdirSync(binDir);
  binary = copyBinaryTo(built, binDir);
}, 180_000);

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop(3_000)));
  await Promise.all(fakes.map((fake) => fake.stop()));
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A data folder of its own per run, outside the binary's folder so that one stays bare. */
function dataPath(name: string): string {
  const folder = join(work, name);
  mkdirSync(folder, { recursive: true });
  return join(folder, "immigraflow.db");
}

async function createPartner(env: Record<string, string>): Promise<Partner> {
  const result = await runBinary(
    binary,
    ["partner", "create", "--name", "E2E Partner", "--email", "ops@e2e.example", "--json"],
    { env },
  );
  expect(result.code, result.stderr).toBe(0);
  const line = result.stdout.trim().split("\n").at(-1) ?? "";
  const partner = JSON.parse(line) as Partner;
  expect(partner.api_key).toMatch(/^ifk_[0-9A-Za-z]{24}$/);
  expect(partner.api_secret).toMatch(/^ifs_[0-9A-Za-z]{40}$/);
  return partner;
}

async function launch(env: Record<string, string>): Promise<RunningServer> {
  const server = await startServer(binary, { env });
  servers.push(server.process);
  return server;
}

function client(server: RunningServer, partner: Partner) {
  return async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        "X-API-KEY": partner.api_key,
        "X-API-SECRET": partner.api_secret,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(5_000),
    });
    const text = await response.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      // Left null: the assertion on status or shape says what was wrong.
    }
    return { status: response.status, json: json as Record<string, unknown>, text };
  };
}

/**
 * POST a user and a case, then poll the case until the checker has written its first status
 * update. `withinMs` is the scheduler's worst case plus slack, so a hang fails, not stalls.
 */
async function watchUntilFirstUpdate(
  server: RunningServer,
  partner: Partner,
  receipt: string,
  withinMs: number,
  /** The back office may create the user already verified, so updates are e-mailed. */
  verified = false,
): Promise<StatusUpdate> {
  const api = client(server, partner);
  const user = verified
    ? await api("POST", "/v1/client/users", {
        email: "ana@e2e.example",
        email_verified: true,
        send_verification: false,
      })
    : await api("POST", "/v1/users", { email: "ana@e2e.example" });
  expect(user.status, user.text).toBe(201);
  const userId = user.json.id as number;

  const created = await api("POST", `/v1/users/${userId}/cases`, { receipt_number: receipt });
  expect(created.status, created.text).toBe(201);
  const theCase = created.json.case as { id: number; user_case_id: string; receipt_number: string };
  expect(theCase.receipt_number).toBe(receipt);
  expect(theCase.user_case_id).toMatch(/^FLOW\d{7}$/);

  const deadline = Date.now() + withinMs;
  let last = "";
  while (Date.now() < deadline) {
    const details = await api("GET", `/v1/users/${userId}/cases/${theCase.user_case_id}`);
    expect(details.status, details.text).toBe(200);
    const updates = details.json.status_updates as StatusUpdate[];
    if (updates.length > 0) {
      expect(details.json.update_count).toBe(updates.length);
      return updates.at(-1)!;
    }
    last = details.text;
    await Bun.sleep(250);
  }
  throw new Error(
    `no status update within ${withinMs} ms; last answer ${last}\n${server.process.dump()}`,
  );
}

async function expectServiceEndpoints(server: RunningServer) {
  const health = await fetch(`${server.url}/health`);
  expect(health.status).toBe(200);
  expect(health.headers.get("content-type")).toContain("application/json");
  expect(["ok", "degraded"]).toContain(((await health.json()) as { status: string }).status);

  const docs = await fetch(`${server.url}/docs`);
  expect(docs.status).toBe(200);
  expect(docs.headers.get("content-type")).toContain("text/html");
  const page = await docs.text();
  expect(page).toContain("/docs/assets/swagger-ui-bundle.js");

  // The assets come out of the executable itself: nothing beside it, and no CDN.
  for (const [asset, type] of [
    ["swagger-ui-bundle.js", "javascript"],
    ["swagger-ui.css", "text/css"],
  ] as const) {
    const response = await fetch(`${server.url}/docs/assets/${asset}`);
    expect(response.status, asset).toBe(200);
    expect(response.headers.get("content-type")).toContain(type);
    expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(10_000);
  }

  const spec = await fetch(`${server.url}/docs/json`);
  expect(spec.status).toBe(200);
  const document = (await spec.json()) as { openapi?: string; paths?: Record<string, unknown> };
  expect(document.openapi).toMatch(/^3\./);
  // Only that the document was generated from the routes inside the binary; whether it
  // matches API.md path for path is for the HTTP layer's own tests.
  expect(Object.keys(document.paths ?? {}).some((path) => path.startsWith("/v1/users"))).toBe(true);
}

async function expectWrongSecretRefused(server: RunningServer, partner: Partner) {
  const api = client(server, { ...partner, api_secret: `ifs_${"x".repeat(40)}` });
  const refused = await api("GET", "/v1/users");
  expect(refused.status).toBe(401);
  const envelope = refused.json.error as { code: string; message: string; request_id: string };
  expect(envelope.code).toBe("unauthorized");
  expect(typeof envelope.message).toBe("string");
  expect(envelope.request_id).toBeTruthy();
}

/**
 * Validation as the executable runs it: bundling once changed how the framework coerced query
 * integers, so list bounds held under `bun test` and not in the binary.
 */
async function expectBadInputRefused(server: RunningServer, partner: Partner) {
  const api = client(server, partner);
  for (const path of [
    "/v1/users?limit=0",
    "/v1/users?limit=201",
    "/v1/users?limit=-1",
    "/v1/users/0",
  ]) {
    const refused = await api("GET", path);
    expect(refused.status, path).toBe(400);
    expect((refused.json.error as { code: string }).code).toBe("validation_error");
  }
  const unknownField = await api("POST", "/v1/users", { email: "ana@example.com", emial: "x" });
  expect(unknownField.status).toBe(400);
  expect((await api("GET", "/v1/users?limit=200")).status).toBe(200);
}

describe("the compiled executable", () => {
  test("runs from a bare folder: version and --help", async () => {
    expect(readdirSync(binDir)).toEqual(["immigraflow"]);

    const version = await runBinary(binary, ["version"]);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(Version);

    const help = await runBinary(binary, ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: immigraflow");
    expect(help.stdout).toContain("serve");

    const serveHelp = await runBinary(binary, ["serve", "--help"]);
    expect(serveHelp.code).toBe(0);
    expect(serveHelp.stdout).toContain("Usage: immigraflow serve");
  });

  test("serve creates the database's folder on a first start", async () => {
    const databasePath = join(work, "not-yet", "deeper", "immigraflow.db");
    const server = await launch({ DATABASE_PATH: databasePath });
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  test("a second instance on a port already taken stops instead of sharing it", async () => {
    const first = await launch({ DATABASE_PATH: dataPath("port-first") });
    const second = await runBinary(binary, ["serve"], {
      env: { DATABASE_PATH: dataPath("port-second"), PORT: String(first.port) },
    });
    expect(second.code).not.toBe(0);
    expect(`${second.stdout}${second.stderr}`).toMatch(/EADDRINUSE|in use/i);
    const health = await fetch(`${first.url}/health`);
    expect(health.status).toBe(200);
  });

  test("one serve per database: a second is refused, a restart after SIGKILL is not", async () => {
    const databasePath = dataPath("one-instance");
    const first = await launch({ DATABASE_PATH: databasePath });
    const second = await runBinary(binary, ["serve"], {
      env: { DATABASE_PATH: databasePath, PORT: "0" },
    });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`another ImmigraFlow process is serving ${databasePath}`);
    // The CLI's other commands still run beside the server.
    const list = await runBinary(binary, ["partner", "list", "--json"], {
      env: { DATABASE_PATH: databasePath },
    });
    expect(list.code, list.stderr).toBe(0);

    // Another name for the same file meets the same lock.
    const alias = join(work, "one-instance-alias.db");
    symlinkSync(databasePath, alias);
    const aliased = await runBinary(binary, ["serve"], { env: { DATABASE_PATH: alias } });
    expect(aliased.code).toBe(1);
    expect(aliased.stderr).toContain("another ImmigraFlow process is serving");

    first.process.child.kill("SIGKILL");
    await first.process.exited;
    const restarted = await launch({ DATABASE_PATH: databasePath });
    expect((await fetch(`${restarted.url}/health`)).status).toBe(200);
  });

  test("ignores a .env file in the folder it is started from", async () => {
    const folder = join(work, "with-dotenv");
    mkdirSync(folder);
    // A value that would stop start-up if the binary read it.
    writeFileSync(join(folder, ".env"), "USCIS_MODE=not-a-mode\n");
    const result = await runBinary(binary, ["partner", "list", "--json"], {
      cwd: folder,
      env: { DATABASE_PATH: dataPath("dotenv") },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([]);
  });

  test("sandbox mode against a Torch fake: a new case gets its first update", async () => {
    const fake = await startTorchFake({ clientId: "e2e-client", clientSecret: "e2e-secret" });
    fakes.push(fake);
    fake.setCase(SandboxReceipt, {
      case_status: {
        receiptNumber: SandboxReceipt,
        formType: "I765",
        submittedDate: "03-01-2026 09:15:00",
        modifiedDate: "03-20-2026 16:40:12",
        current_case_status_text_en: SandboxTitle,
        current_case_status_desc_en: "As of March 20, 2026, we are actively reviewing your case.",
        current_case_status_text_es: "Caso Está Siendo Revisado Activamente Por USCIS",
        current_case_status_desc_es: "A partir del 20 de marzo de 2026, revisamos su caso.",
        hist_case_status: [
          { date: "2026-03-01", completed_text_en: "Case Was Received", completed_text_es: "" },
        ],
      },
      message: "Query was successful",
    });

    const resend = startResendFake({ apiKey: "re_e2e_binary_0123456789" });
    fakes.push(resend);

    const env = {
      DATABASE_PATH: dataPath("sandbox"),
      RESEND_API_KEY: "re_e2e_binary_0123456789",
      RESEND_BASE_URL: resend.url,
      EMAIL_FROM: "ImmigraFlow <cases@e2e.example>",
      HOST: "127.0.0.1",
      USCIS_MODE: "sandbox",
      USCIS_API_BASE_URL: fake.url,
      USCIS_TOKEN_URL: fake.tokenUrl,
      USCIS_CLIENT_ID: "e2e-client",
      USCIS_CLIENT_SECRET: "e2e-secret",
      // Six fields: a tick every second, so the test waits seconds, not a minute.
      CHECKER_CRON: "*/1 * * * * *",
      CHECK_INTERVAL_MINUTES: "1",
    };
    const partner = await createPartner(env);
    const server = await launch(env);
    const listening = server.process.logs.find((l) => l.msg === "ImmigraFlow is listening");
    expect(listening?.uscis_mode).toBe("sandbox");

    await expectServiceEndpoints(server);
    await expectWrongSecretRefused(server, partner);
    await expectBadInputRefused(server, partner);

    const update = await watchUntilFirstUpdate(server, partner, SandboxReceipt, 15_000, true);
    expect(update.kind).toBe("initial");
    expect(update.status_code).toBe(SandboxTitle);
    // The tick ran in the checker thread, which the executable carries as its second entry
    // point, and the thread's log lines keep the service's format with a field of their own.
    const tick = await server.process.waitForLog(
      (line) => line.msg === "checker tick" && Number(line.checked) >= 1,
      5_000,
    );
    expect(tick.thread).toBe("checker");
    expect(server.process.stdout).not.toContain("e2e-secret");
    // What the thread wrote into the outbox, the main thread's sender delivered.
    const deadline = Date.now() + 10_000;
    while (resend.delivered.length === 0 && Date.now() < deadline) await Bun.sleep(100);
    expect(resend.delivered.map((mail) => mail.to)).toEqual(["ana@e2e.example"]);
    const health = (await (await fetch(`${server.url}/health`)).json()) as {
      checker: { thread: { state: string; restarts: number } };
    };
    expect(health.checker.thread).toMatchObject({ state: "running", restarts: 0 });
    expect(update.form_type).toBe("I-765");
    expect(fake.requests.token).toBeGreaterThanOrEqual(1);
    expect(fake.requests.caseStatus).toBeGreaterThanOrEqual(1);
    expect(fake.requests.log.some((r) => r.receipt === SandboxReceipt && r.status === 200)).toBe(
      true,
    );

    // The shutdown handler must survive compilation: SIGTERM is a clean stop, not a kill.
    expect(await server.process.stop(5_000)).toBe(0);
    expect(server.process.logs.some((line) => line.msg === "stopped")).toBe(true);
  }, 60_000);

  test("with nothing configured it runs on the embedded simulator", async () => {
    // Only where to keep data and a port: every other setting is the binary's own default,
    // including the once-a-minute checker schedule.
    const env = { DATABASE_PATH: dataPath("defaults"), PORT: "0" };
    const partner = await createPartner(env);
    const server = await launch(env);
    const listening = server.process.logs.find((l) => l.msg === "ImmigraFlow is listening");
    expect(listening?.uscis_mode).toBe("simulator");
    // No NODE_ENV in its environment, as under systemd: still a production server.
    expect(listening?.development).toBe(false);

    await expectServiceEndpoints(server);
    await expectWrongSecretRefused(server, partner);

    // The default schedule ticks at the top of each minute: one tick plus slack.
    const update = await watchUntilFirstUpdate(server, partner, SimulatorReceipt, 75_000);
    expect(update.kind).toBe("initial");
    expect(update.status_code.length).toBeGreaterThan(0);
    expect(update.category).not.toBe("");

    // The checker thread reserved a block of simulated calls; SIGTERM gives back what it did
    // not use, so the day's count is what the ticks asked.
    expect(await server.process.stop(5_000)).toBe(0);
    const asked = server.process.logs
      .filter((line) => line.msg === "checker tick" && line.thread === "checker")
      .reduce((sum, line) => sum + Number(line.checked), 0);
    expect(asked).toBeGreaterThanOrEqual(1);
    const db = new Database(env.DATABASE_PATH, { readonly: true });
    try {
      const row = db.query("SELECT sum(count) AS n FROM usage_counters").get() as { n: number };
      expect(row.n).toBe(asked);
    } finally {
      db.close();
    }
  }, 100_000);
});
