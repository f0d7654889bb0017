/**
 * The compiled executable on a file system that really fills up: a small tmpfs, mounted for
 * this file, so it runs only where the test may mount (root; skipped elsewhere, e.g. on CI
 * runners without it). write-failure.test.ts covers the same promise everywhere with
 * `PRAGMA max_page_count`; this one proves SQLite's own answer to ENOSPC in WAL mode, with the
 * checker and the senders running, and that nothing accepted is gone after a restart.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BinaryProcess, type RunningServer, startServer } from "../helpers/binary.ts";
import { binaryWorkspace, createPartnerWithCli, type Partner, partnerRequest } from "./harness.ts";

/** Mounts a 16 MB tmpfs; null where this process may not mount. */
function mountSmallDisk(): string | null {
  if (process.platform !== "linux" || process.getuid?.() !== 0) return null;
  const folder = mkdtempSync(join(tmpdir(), "immigraflow-faults-disk-"));
  const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", folder]);
  if (mounted.exitCode === 0) return folder;
  rmSync(folder, { recursive: true, force: true });
  return null;
}

function unmount(folder: string) {
  Bun.spawnSync(["umount", folder]);
  rmSync(folder, { recursive: true, force: true });
}

const disk = mountSmallDisk();
// Also if the runner dies before afterAll: a stray mount would outlive the test run.
process.on("exit", () => {
  if (disk) Bun.spawnSync(["umount", disk]);
});

let ws: Awaited<ReturnType<typeof binaryWorkspace>>;
const processes: BinaryProcess[] = [];

beforeAll(async () => {
  if (disk) ws = await binaryWorkspace("full-disk");
}, 180_000);

afterAll(async () => {
  await Promise.all(processes.map((child) => child.kill()));
  if (ws) rmSync(ws.work, { recursive: true, force: true });
  if (disk) unmount(disk);
});

/** Writes a file until the file system refuses; returns its path. */
function fillDisk(folder: string): string {
  const path = join(folder, "filler");
  const fd = openSync(path, "w");
  try {
    for (const size of [1 << 20, 1 << 16, 1 << 12, 512]) {
      const chunk = Buffer.alloc(size, 1);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

async function launch(env: Record<string, string>): Promise<RunningServer> {
  const server = await startServer(ws.binary, { env });
  processes.push(server.process);
  return server;
}

describe("a full disk under the compiled executable", () => {
  test.skipIf(!disk)(
    "writes answer 503 while full; everything accepted survives",
    async () => {
      const folder = join(disk!, "data");
      mkdirSync(folder);
      const env = {
        DATABASE_PATH: join(folder, "immigraflow.db"),
        HOST: "127.0.0.1",
        CHECKER_CRON: "* * * * * *",
        CHECK_INTERVAL_MINUTES: "60",
      };
      const partner: Partner = await createPartnerWithCli(ws.binary, env);
      const server = await launch(env);
      const accepted: number[] = [];
      const createUser = async (email: string) => {
        const answer = await partnerRequest(server.url, partner, "POST", "/v1/users", { email });
        if (answer.status === 201) accepted.push((answer.json as { id: number }).id);
        return answer;
      };
      for (let i = 0; i < 5; i += 1) {
        expect((await createUser(`before${i}@faults.example`)).status).toBe(201);
      }

      const filler = fillDisk(disk!);
      const whileFull = [];
      for (let i = 0; i < 5; i += 1) whileFull.push(await createUser(`full${i}@faults.example`));
      // A write that found room in space SQLite already held may pass; none may fail otherwise.
      expect(whileFull.filter((a) => a.status !== 201 && a.status !== 503)).toEqual([]);
      const refused = whileFull.filter((a) => a.status === 503);
      expect(refused.length).toBeGreaterThan(0);
      for (const answer of refused) {
        expect((answer.json as { error: { code: string } }).error.code).toBe("service_unavailable");
      }
      for (const id of accepted) {
        const read = await partnerRequest(server.url, partner, "GET", `/v1/users/${id}`);
        expect(read.status).toBe(200);
      }
      const health = await fetch(`${server.url}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({
        status: "degraded",
        database: { ok: true, writable: false, problem: "full" },
      });
      const logged = server.process.logs.filter((line) => line.msg === "database cannot store");
      expect(logged.map((line) => line.sqlite_code)).toContain("SQLITE_FULL");

      unlinkSync(filler);
      const roomAgain = (await (await fetch(`${server.url}/health`)).json()) as object;
      expect(roomAgain).toMatchObject({ database: { ok: true, writable: true } });
      expect((await createUser("after@faults.example")).status).toBe(201);
      expect(await server.process.stop(10_000)).toBe(0);

      // A fresh start on the same file finds every user that was ever answered 201.
      const again = await launch(env);
      for (const id of accepted) {
        const read = await partnerRequest(again.url, partner, "GET", `/v1/users/${id}`);
        expect(read.status, `user ${id}`).toBe(200);
      }
      expect(await again.process.stop(10_000)).toBe(0);
      const db = new Database(env.DATABASE_PATH, { readonly: true });
      try {
        expect(db.query("PRAGMA integrity_check").all()).toEqual([{ integrity_check: "ok" }]);
        const users = db.query("SELECT count(*) AS n FROM users").get() as { n: number };
        expect(users.n).toBe(accepted.length);
      } finally {
        db.close();
      }
      console.info(
        JSON.stringify({
          fault: "full-disk",
          accepted: accepted.length,
          refused_while_full: refused.length,
          codes: logged.map((line) => line.sqlite_code),
        }),
      );
    },
    60_000,
  );
});
