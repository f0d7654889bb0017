/**
 * Helpers for tests that drive the compiled executable as an operator would: build or locate
 * it, copy it somewhere bare, spawn it with an explicit environment, read its JSON log lines
 * and stop it (gently, or with SIGKILL for crash tests).
 */

import { chmodSync, copyFileSync, existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { buildExecutable, defaultOutfile } from "../../scripts/build.ts";

const root = join(import.meta.dir, "..", "..");

/** What the binary is built from: a binary older than any of these is stale. */
const BuildInputs = ["src", "drizzle", "package.json", "bun.lock", "scripts/build.ts"];

let pending: Promise<string> | undefined;

/**
 * Path of an up-to-date dist/immigraflow. Reuses the one a build step of this run already
 * produced (CI builds before testing) and compiles only when it is missing or older than the
 * sources, so a test never exercises yesterday's binary. Memoised: test files share one build.
 */
export function ensureBinary(): Promise<string> {
  pending ??= (async () => {
    if (existsSync(defaultOutfile) && statSync(defaultOutfile).mtimeMs >= newestInput()) {
      return defaultOutfile;
    }
    await buildExecutable(defaultOutfile);
    return defaultOutfile;
  })();
  pending.catch(() => {
    pending = undefined;
  });
  return pending;
}

function newestInput(): number {
  let newest = 0;
  const visit = (path: string) => {
    if (!existsSync(path)) return;
    const stat = statSync(path);
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path)) visit(join(path, entry));
    } else {
      newest = Math.max(newest, stat.mtimeMs);
    }
  };
  for (const input of BuildInputs) visit(join(root, input));
  return newest;
}

/** Copies the executable into `folder`, so it runs with nothing of the repository beside it. */
export function copyBinaryTo(binary: string, folder: string): string {
  const target = join(folder, "immigraflow");
  copyFileSync(binary, target);
  chmodSync(target, 0o755);
  return target;
}

export interface SpawnOptions {
  /** Working folder; defaults to the binary's own folder. */
  cwd?: string;
  /**
   * The child's whole environment besides PATH and HOME. The test runner's variables are not
   * inherited, so a setting exported in a developer's shell cannot change what a test proves.
   */
  env?: Record<string, string>;
}

function childEnv(env: Record<string, string> = {}): Record<string, string> {
  const base: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
  if (process.env.HOME) base.HOME = process.env.HOME;
  return { ...base, ...env };
}

function folderOf(path: string): string {
  return join(path, "..");
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command of the binary to completion (e.g. `version`, `partner create`). */
export async function runBinary(
  binary: string,
  args: string[],
  options: SpawnOptions & { timeoutMs?: number } = {},
): Promise<RunResult> {
  const child = Bun.spawn([binary, ...args], {
    cwd: options.cwd ?? folderOf(binary),
    env: childEnv(options.env),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: options.timeoutMs ?? 15_000,
    killSignal: "SIGKILL",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { code, stdout, stderr };
}

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

/** A long-running child (usually `serve`) whose stdout is read as JSON log lines. */
export class BinaryProcess {
  /** Every stdout line that parsed as a JSON object, in order. */
  readonly logs: LogLine[] = [];
  /** Raw output, for failure messages and for lines that are not JSON. */
  stdout = "";
  stderr = "";
  readonly exited: Promise<number>;
  /** True once the process has exited and its output has been read to the end. */
  done = false;
  private readonly waiters = new Set<() => void>();

  constructor(readonly child: Subprocess<"ignore", "pipe", "pipe">) {
    live.add(this);
    const out = this.read(child.stdout, true);
    const err = this.read(child.stderr, false);
    this.exited = child.exited.then(async (code) => {
      live.delete(this);
      await Promise.all([out, err]);
      this.done = true;
      this.notify();
      return code;
    });
  }

  get pid(): number {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private async read(stream: ReadableStream<Uint8Array>, isStdout: boolean) {
    const decoder = new TextDecoder();
    let partial = "";
    for await (const chunk of stream) {
      const text = decoder.decode(chunk, { stream: true });
      if (!isStdout) {
        this.stderr += text;
        continue;
      }
      this.stdout += text;
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) this.parse(line);
      this.notify();
    }
    if (isStdout && partial) this.parse(partial);
  }

  private parse(line: string) {
    const trimmed = line.trim();
    if (!trimmed.startsWith("{")) return;
    try {
      const value: unknown = JSON.parse(trimmed);
      if (value && typeof value === "object" && !Array.isArray(value)) {
        this.logs.push(value as LogLine);
      }
    } catch {
      // Not every line has to be JSON (a crash prints a plain trace): it stays in `stdout`.
    }
  }

  private notify() {
    for (const wake of this.waiters) wake();
  }

  /**
   * Resolves with the first log line (already seen or still to come) whose `msg` equals the
   * string or that satisfies the predicate. Rejects on timeout or if the process exits first,
   * with its output in the message so the failure explains itself. `from` skips the first
   * lines (pass `logs.length` to wait for something that has not happened yet, e.g. the next
   * checker tick).
   */
  waitForLog(
    match: string | ((line: LogLine) => boolean),
    timeoutMs = 10_000,
    from = 0,
  ): Promise<LogLine> {
    const test = typeof match === "string" ? (line: LogLine) => line.msg === match : match;
    const label = typeof match === "string" ? `"${match}"` : "a matching line";
    return new Promise((resolve, reject) => {
      const finish = (error?: Error, line?: LogLine) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (error) reject(error);
        else resolve(line!);
      };
      const check = () => {
        const found = this.logs.slice(from).find(test);
        if (found) return finish(undefined, found);
        if (this.done) {
          const how = this.child.signalCode ?? `code ${this.child.exitCode}`;
          finish(new Error(`process exited (${how}) before ${label}\n${this.dump()}`));
        }
      };
      const timer = setTimeout(
        () => finish(new Error(`no log ${label} within ${timeoutMs} ms\n${this.dump()}`)),
        timeoutMs,
      );
      this.waiters.add(check);
      check();
    });
  }

  /** The tail of what the process printed, for assertion messages. */
  dump(maxChars = 4000): string {
    const text = `--- stdout\n${this.stdout}\n--- stderr\n${this.stderr}`;
    return text.length > maxChars ? `...${text.slice(-maxChars)}` : text;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null if by signal). */
  async stop(graceMs = 5_000): Promise<number | null> {
    if (this.running) {
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    await this.exited;
    return this.child.exitCode;
  }

  /** An abrupt crash: no shutdown handler runs, for tests of what survives one. */
  async kill(): Promise<void> {
    if (this.running) this.child.kill("SIGKILL");
    await this.exited;
  }
}

/** Children still running: killed if the test process itself goes away first. */
const live = new Set<BinaryProcess>();
process.on("exit", () => {
  for (const child of live) child.child.kill("SIGKILL");
});

/** Starts the binary with `args` and returns at once; see `startServer` for `serve`. */
export function spawnBinary(
  binary: string,
  args: string[],
  options: SpawnOptions = {},
): BinaryProcess {
  const child = Bun.spawn([binary, ...args], {
    cwd: options.cwd ?? folderOf(binary),
    env: childEnv(options.env),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  return new BinaryProcess(child);
}

export interface RunningServer {
  process: BinaryProcess;
  /** Base URL to call, on the loopback address whatever HOST the server bound. */
  url: string;
  port: number;
}

/**
 * Runs `serve` and waits for its "ImmigraFlow is listening" line. PORT defaults to 0, so the
 * kernel picks a free port and the test reads the real one from that line: no race with
 * another process grabbing a port chosen in advance.
 */
export async function startServer(
  binary: string,
  options: SpawnOptions & { timeoutMs?: number } = {},
): Promise<RunningServer> {
  const env = { PORT: "0", ...options.env };
  const server = spawnBinary(binary, ["serve"], { ...options, env });
  try {
    const line = await server.waitForLog("ImmigraFlow is listening", options.timeoutMs ?? 15_000);
    const port = Number(new URL(String(line.url)).port);
    if (!Number.isInteger(port) || port <= 0) {
      throw new Error(`listening line has no usable port: ${JSON.stringify(line)}`);
    }
    return { process: server, port, url: `http://127.0.0.1:${port}` };
  } catch (error) {
    await server.stop(1_000);
    throw error;
  }
}
