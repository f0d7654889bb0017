/**
 * The compiled executable delivering webhooks across a restart: the first attempt fails, the
 * service is stopped with SIGTERM before the retry is due, and the retry goes out from the
 * next process under the same webhook-id. Real time: the first retry waits about 5 s.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startWebhookReceiver, type WebhookReceiver } from "../fakes/webhook-receiver.ts";
import {
  type BinaryProcess,
  copyBinaryTo,
  ensureBinary,
  runBinary,
  startServer,
} from "../helpers/binary.ts";

let work = "";
let binary = "";
let receiver: WebhookReceiver | undefined;
const processes: BinaryProcess[] = [];

beforeAll(async () => {
  const built = await ensureBinary();
  work = mkdtempSync(join(tmpdir(), "immigraflow-webhooks-e2e-"));
  mkdirSync(join(work, "bin"));
  binary = copyBinaryTo(built, join(work, "bin"));
}, 180_000);

afterAll(async () => {
  await Promise.all(processes.map((child) => child.kill()));
  await receiver?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function until(label: string, check: () => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${label}`);
    await Bun.sleep(25);
  }
}

test("a retry after SIGTERM and a restart carries the same webhook-id", async () => {
  receiver = startWebhookReceiver();
  const env = {
    DATABASE_PATH: join(work, "data", "immigraflow.db"),
    HOST: "127.0.0.1",
    WEBHOOK_ALLOW_PRIVATE: "true",
    WEBHOOK_ALLOW_HTTP: "true",
  };
  const created = await runBinary(
    binary,
    ["partner", "create", "--name", "Hooks Partner", "--email", "ops@hooks.example", "--json"],
    { env },
  );
  expect(created.code, created.stderr).toBe(0);
  const partner = JSON.parse(created.stdout.trim().split("\n").at(-1)!) as {
    api_key: string;
    api_secret: string;
  };
  const headers = {
    "content-type": "application/json",
    "x-api-key": partner.api_key,
    "x-api-secret": partner.api_secret,
  };

  const first = await startServer(binary, { env });
  processes.push(first.process);
  const hook = await fetch(`${first.url}/v1/webhooks`, {
    method: "POST",
    headers,
    body: JSON.stringify({ url: receiver.url, events: ["user.created"] }),
  });
  expect(hook.status).toBe(201);
  receiver.setSecret(((await hook.json()) as { secret: string }).secret);
  receiver.answer("503", { times: 1 });

  const user = await fetch(`${first.url}/v1/users`, {
    method: "POST",
    headers,
    body: JSON.stringify({ email: "ana@example.com" }),
  });
  expect(user.status).toBe(201);
  await until("the first attempt", () => receiver!.deliveries.length === 1, 10_000);
  expect(await first.process.stop()).toBe(0);
  expect(receiver.deliveries).toHaveLength(1);

  const second = await startServer(binary, { env });
  processes.push(second.process);
  await until("the retry", () => receiver!.accepted.length === 1, 15_000);
  await second.process.stop();

  const [failed, delivered] = receiver.deliveries;
  expect(failed).toMatchObject({ status: 503, verified: true });
  expect(delivered).toMatchObject({ status: 200, verified: true, repeat: true, id: failed!.id });
  expect(delivered!.event!.type).toBe("user.created");
  expect(Number(delivered!.timestamp) - Number(failed!.timestamp)).toBeGreaterThanOrEqual(4);
}, 60_000);
