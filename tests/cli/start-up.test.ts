import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..", "..");
const work = mkdtempSync(join(tmpdir(), "immigraflow-start-up-"));
// The unprivileged user below must reach the folders made here.
chmodSync(work, 0o755);

afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * Permissions stop only an unprivileged user: as root the command runs as nobody through
 * setpriv, elsewhere as the user running the tests. Null where neither is possible.
 */
const unprivileged: string[] | null =
  process.getuid?.() !== 0
    ? []
    : Bun.which("setpriv")
      ? ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
      : null;

/** `immigraflow serve` from the checkout with a bare environment; ends it if it starts. */
async function serve(env: Record<string, string>, prefix: string[] = []) {
  const child = Bun.spawn([...prefix, process.execPath, "src/main.ts", "serve"], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", PORT: "0", LOG_FORMAT: "json", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  clearTimeout(timer);
  return { stdout, stderr, code };
}

describe("start-up failures name the setting, its value and what to do", () => {
  test("DATABASE_PATH naming a folder", async () => {
    const folder = join(work, "a-folder.db");
    mkdirSync(folder);
    const run = await serve({ DATABASE_PATH: folder });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`DATABASE_PATH=${folder}: ${folder} is a folder`);
    expect(run.stderr).toContain(join(folder, "immigraflow.db"));
  }, 30_000);

  test("HOST that is no address of this machine", async () => {
    const run = await serve({ DATABASE_PATH: join(work, "host", "x.db"), HOST: "999.1.1.1" });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("HOST=999.1.1.1 PORT=0: cannot listen on 999.1.1.1");
    expect(run.stderr).toContain("use 0.0.0.0");
    // PORT=0 without PUBLIC_BASE_URL is allowed, but e-mail links would be wrong: a warning.
    const warning = run.stdout.split("\n").find((line) => line.includes("PUBLIC_BASE_URL"));
    expect(JSON.parse(warning ?? "{}")).toMatchObject({ level: "warn" });
  }, 30_000);

  test.skipIf(unprivileged === null)(
    "a read-only data folder",
    async () => {
      const folder = join(work, "read-only-folder");
      mkdirSync(folder, { mode: 0o555 });
      chmodSync(folder, 0o555);
      const run = await serve({ DATABASE_PATH: join(folder, "x.db") }, unprivileged ?? []);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`DATABASE_PATH=${join(folder, "x.db")}: the folder ${folder}`);
      expect(run.stderr).toContain("read-only for this user");
      expect(run.stderr).toContain("x.db.lock");
      const below = join(folder, "data", "x.db");
      const nested = await serve({ DATABASE_PATH: below }, unprivileged ?? []);
      expect(nested.code).toBe(1);
      expect(nested.stderr).toContain(`cannot create the folder ${join(folder, "data")}`);
    },
    30_000,
  );

  test.skipIf(unprivileged === null)(
    "a read-only database file",
    async () => {
      const folder = join(work, "read-only-file");
      mkdirSync(folder);
      chmodSync(folder, 0o777);
      const path = join(folder, "x.db");
      const migrated = Bun.spawnSync([process.execPath, "src/main.ts", "migrate"], {
        cwd: root,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", DATABASE_PATH: path },
      });
      expect(migrated.exitCode).toBe(0);
      chmodSync(path, 0o444);
      const run = await serve({ DATABASE_PATH: path }, unprivileged ?? []);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`DATABASE_PATH=${path}: ${path} is read-only for this user`);
      // Refused before the checker thread starts: nothing ran on a database it cannot write.
      expect(run.stdout).not.toContain("checker thread started");
    },
    30_000,
  );
});
