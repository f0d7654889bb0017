/**
 * What a benchmark hands back: rows of the final table. Each benchmark runs in a process of its
 * own (so one's heap, page cache pressure or leftover timers cannot colour the next) and
 * prints its rows as one marked JSON line on stdout; everything else it says goes to stderr.
 */

export interface BenchRow {
  benchmark: string;
  /** The measured figure, formatted: "48,210 req/s", "p99 3.1 ms". */
  figure: string;
  /** The reference it is held against, or the target: ">= 50% of 95,000 req/s". */
  reference: string;
  /** null for rows that only report (no target). */
  pass: boolean | null;
  /** Raw numbers, for whoever wants the JSON. */
  values?: Record<string, number>;
}

export const RowsMarker = "BENCH_ROWS ";

export function emitRows(rows: BenchRow[]): void {
  process.stdout.write(`${RowsMarker}${JSON.stringify(rows)}\n`);
}

/** Progress for the person watching; stderr, so the table on stdout stays clean. */
export function progress(benchmark: string, message: string): void {
  process.stderr.write(`[${benchmark}] ${message}\n`);
}

/** Runs a benchmark module's main: its rows on success, one failed row if it threw. */
export async function benchMain(name: string, run: () => Promise<BenchRow[]>): Promise<void> {
  try {
    emitRows(await run());
    process.exit(0);
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    progress(name, `failed: ${message}`);
    emitRows([{ benchmark: name, figure: "error", reference: oneLine(message), pass: false }]);
    process.exit(1);
  }
}

function oneLine(text: string): string {
  return text.split("\n")[0]!.slice(0, 80);
}

export const formatInt = (value: number) => Math.round(value).toLocaleString("en-US");

export const formatMs = (value: number) =>
  value >= 100 ? `${Math.round(value)} ms` : `${value.toFixed(value >= 10 ? 1 : 2)} ms`;

export const formatMb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;

/** Fixed-width table, the way a terminal and a README code block both show it. */
export function renderTable(rows: BenchRow[]): string {
  const header = ["benchmark", "figure", "reference / target", "result"];
  const cells = rows.map((row) => [
    row.benchmark,
    row.figure,
    row.reference,
    row.pass === null ? "info" : row.pass ? "PASS" : "FAIL",
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...cells.map((line) => line[column]!.length)),
  );
  const line = (values: string[]) =>
    values.map((value, column) => value.padEnd(widths[column]!)).join(" | ");
  const rule = widths.map((width) => "-".repeat(width)).join("-|-");
  return [line(header), rule, ...cells.map(line)].join("\n");
}
