#!/usr/bin/env bun
/**
 * `bun run build`: compiles src/main.ts (and the checker thread's entry) into one
 * self-contained executable at dist/immigraflow.
 *
 * The CLI is spawned rather than Bun.build's JS API because the JS API has no `--production`
 * switch: without it the binary would carry NODE_ENV=development, and the flags below are
 * the ones DESIGN.md and the issue name, so they stay checkable against `bun build --help`.
 *
 * `--production` inlines `process.env.NODE_ENV` only. Elysia reads `Bun.env.NODE_ENV` through
 * a variable when it loads, which no define can reach, so without the banner below a binary
 * started without NODE_ENV (systemd, the tests) ran Elysia in development mode: Bun.serve with
 * `development: true`, and every validation error building Elysia's diagnostic report (a sample
 * value made from the schema, every issue, pretty-printed) that the envelope never shows.
 */
import { mkdirSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";

const root = join(import.meta.dir, "..");
export const defaultOutfile = join(root, "dist", "immigraflow");

export const buildFlags = [
  "--compile",
  "--production",
  "--minify-whitespace",
  "--minify-syntax",
  // The binary is configured by its environment only: a stray .env or bunfig.toml in the
  // folder it is started from must not change how it behaves.
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
  // Runs before any bundled module, so Elysia and the SDKs see a production build whatever
  // the environment the binary is started from says.
  `--banner=Bun.env.NODE_ENV = "production";`,
];

/**
 * Every entry point of the executable. The checker runs in a Worker, and a Worker's entry must
 * be an entry point of the build to be embedded at all; src/checker/checker-host.ts names it
 * relative to the folder of src/main.ts, which is the root the executable embeds them under.
 */
export const entryPoints = ["src/main.ts", "src/checker/checker-thread.ts"];

export interface BuildResult {
  outfile: string;
  bytes: number;
  milliseconds: number;
}

export async function buildExecutable(outfile = defaultOutfile): Promise<BuildResult> {
  mkdirSync(dirname(outfile), { recursive: true });
  // A failed build must not leave last run's binary behind looking like a fresh one.
  rmSync(outfile, { force: true });
  const started = performance.now();
  const child = Bun.spawn(
    [process.execPath, "build", ...buildFlags, `--outfile=${outfile}`, ...entryPoints],
    { cwd: root, stdout: "pipe", stderr: "pipe", env: { ...process.env, NODE_ENV: "production" } },
  );
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  const milliseconds = Math.round(performance.now() - started);
  if (code !== 0) {
    throw new Error(`bun build exited with ${code}\n${stdout}${stderr}`.trimEnd());
  }
  return { outfile, bytes: statSync(outfile).size, milliseconds };
}

if (import.meta.main) {
  try {
    const { outfile, bytes, milliseconds } = await buildExecutable(Bun.argv[2] ?? defaultOutfile);
    const megabytes = (bytes / 1024 / 1024).toFixed(1);
    console.log(
      `built ${relative(process.cwd(), outfile)} (${megabytes} MiB) in ${milliseconds} ms`,
    );
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}
