import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..", "..");
const work = mkdtempSync(join(tmpdir(), "immigraflow-simulate-"));
const PATH = process.env.PATH ?? "/usr/bin:/bin";

/** `immigraflow simulate-uscis ARGS` on a free port; resolves with its root URL. */
async function simulator(...args: string[]) {
  const child = Bun.spawn(
    [process.execPath, "src/main.ts", "simulate-uscis", "--port", "0", ...args],
    {
      cwd: root,
      env: { PATH },
      stdout: "pipe",
      stderr: "inherit",
    },
  );
  const reader = child.stdout.getReader();
  let banner = "";
  // The banner's last line is the credentials line; the lines may come in separate reads.
  while (!/credentials: .*\n/.test(banner)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`simulate-uscis ended: ${banner}`);
    banner += new TextDecoder().decode(value);
  }
  const url = /on (http\S+\/)\n/.exec(banner)![1]!;
  return { url, banner, stop: () => child.kill() };
}

/** `immigraflow check RECEIPT` in sandbox mode against `base`, given only the base URL. */
function check(base: string, secret: string) {
  const run = Bun.spawnSync([process.execPath, "src/main.ts", "check", "EAC9999103403"], {
    cwd: root,
    env: {
      PATH,
      DATABASE_PATH: join(work, `${secret}.db`),
      LOG_LEVEL: "silent",
      USCIS_MODE: "sandbox",
      USCIS_CLIENT_ID: "x",
      USCIS_CLIENT_SECRET: secret,
      USCIS_API_BASE_URL: base,
    },
  });
  return { code: run.exitCode, stdout: run.stdout.toString(), stderr: run.stderr.toString() };
}

const running: { stop(): void }[] = [];
afterAll(() => {
  for (const server of running) server.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("simulate-uscis with a secret to expect", () => {
  test("refuses other secrets as Torch does; check reaches it with only the base URL", async () => {
    const server = await simulator("--client-secret", "right");
    running.push(server);
    expect(server.banner).toContain("credentials: only the given client secret");

    const token = (secret: string) =>
      fetch(`${server.url}oauth/accesstoken`, {
        method: "POST",
        body: new URLSearchParams({
          grant_type: "client_credentials",
          client_id: "x",
          client_secret: secret,
        }),
      });
    const refused = await token("wrong");
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({
      ErrorCode: "invalid_client",
      Error: "ClientId is Invalid",
    });
    expect((await token("right")).status).toBe(200);

    // The token request goes to the base URL given, not to api-int.uscis.gov.
    const base = server.url.replace(/\/$/, "");
    const wrong = check(base, "wrong");
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain("credentials refused");
    const right = check(base, "right");
    expect(right.code).toBe(0);
    expect(JSON.parse(right.stdout)).toMatchObject({ receipt_number: "EAC9999103403" });
  }, 30_000);

  test("without one, any client id and secret get a token", async () => {
    const server = await simulator("--client-id", "only-me");
    running.push(server);
    const token = (id: string) =>
      fetch(`${server.url}oauth/accesstoken`, {
        method: "POST",
        body: new URLSearchParams({
          grant_type: "client_credentials",
          client_id: id,
          client_secret: "s",
        }),
      });
    expect((await token("someone")).status).toBe(401);
    expect((await token("only-me")).status).toBe(200);
  }, 30_000);
});
