/**
 * Servers under test run as processes of their own, so the load generator, the benchmark's
 * bookkeeping and the server never share an event loop. They announce themselves on stderr
 * with marked lines (`READY {...}`, `CHECKED {...}`); stdout (the JSON log) goes to a file.
 */
import { join } from "node:path";

const root = join(import.meta.dir, "..", "..");

export interface ServerProcess {
  port: number;
  /** Everything the READY line said. */
  ready: Record<string, unknown>;
  pid: number;
  /** Writes one line to the server's stdin. */
  send(line: string): void;
  /** The payload of the next stderr line starting with `marker`. */
  next(marker: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** The bench's own environment for a child: PATH and HOME, nothing else leaks in. */
export function childEnv(env: Record<string, string>): Record<string, string> {
  const base: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
  if (process.env.HOME) base.HOME = process.env.HOME;
  return { ...base, ...env };
}

export async function startServer(options: {
  /** Relative to the repository root, e.g. bench/servers/app.ts. */
  script: string;
  env?: Record<string, string>;
  logFile?: string;
  startTimeoutMs?: number;
}): Promise<ServerProcess> {
  const child = Bun.spawn([process.execPath, join(root, options.script)], {
    cwd: root,
    env: childEnv({ NODE_ENV: "production", ...options.env }),
    stdin: "pipe",
    stdout: options.logFile ? Bun.file(options.logFile) : "ignore",
    stderr: "pipe",
  });
  const lines = stderrLines(child);
  try {
    const ready = await lines.next("READY ", options.startTimeoutMs ?? 60_000);
    return {
      port: Number(ready.port),
      ready,
      pid: child.pid,
      send(line) {
        child.stdin.write(`${line}\n`);
        child.stdin.flush();
      },
      next: lines.next,
      async stop() {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await child.exited;
        clearTimeout(timer);
      },
    };
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
}

function stderrLines(child: { stderr: ReadableStream<Uint8Array> }) {
  const seen: string[] = [];
  const waiters: { marker: string; resolve: (line: string) => void }[] = [];
  let ended = false;

  (async () => {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of child.stderr) {
      buffered += decoder.decode(chunk, { stream: true });
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        deliver(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf("\n");
      }
    }
    ended = true;
  })();

  function deliver(line: string) {
    const waiter = waiters.findIndex((candidate) => line.startsWith(candidate.marker));
    if (waiter >= 0) {
      waiters.splice(waiter, 1)[0]!.resolve(line);
      return;
    }
    seen.push(line);
    // A server's own complaints are worth seeing while the benchmark runs.
    if (!/^[A-Z]+ \{/.test(line)) process.stderr.write(`  server: ${line}\n`);
  }

  return {
    next(marker: string, timeoutMs = 120_000): Promise<Record<string, unknown>> {
      const earlier = seen.findIndex((line) => line.startsWith(marker));
      if (earlier >= 0) {
        return Promise.resolve(JSON.parse(seen.splice(earlier, 1)[0]!.slice(marker.length)));
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          const detail = ended ? "the server exited" : `no ${marker.trim()} in ${timeoutMs} ms`;
          reject(new Error(`${detail}; last output:\n${seen.slice(-10).join("\n")}`));
        }, timeoutMs);
        waiters.push({
          marker,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(JSON.parse(line.slice(marker.length)));
          },
        });
      });
    },
  };
}
