import { beforeEach, describe, expect, test } from "bun:test";
import { createLogger, memoryDestination } from "../../src/logger.ts";
import { reportUnknownTitle, resetUnknownTitles } from "../../src/messages/unknown-titles.ts";

function collector() {
  const destination = memoryDestination();
  const logger = createLogger({ level: "info", format: "json", destination: destination.stream });
  return { logger, lines: destination.lines };
}

beforeEach(() => resetUnknownTitles());

describe("reportUnknownTitle", () => {
  test("logs a title the first time only", () => {
    const { logger, lines } = collector();

    expect(reportUnknownTitle(logger, "Case Was Mailed To Mars")).toBe(true);
    expect(reportUnknownTitle(logger, "Case Was Mailed To Mars")).toBe(false);

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: "warn",
      msg: "unknown USCIS status title",
      title: "Case Was Mailed To Mars",
    });
  });

  test("counts spelling variants of one title as one", () => {
    const { logger, lines } = collector();

    reportUnknownTitle(logger, "Request for Moon Evidence Was Sent");
    reportUnknownTitle(logger, "request For moon evidence was sent.");

    expect(lines).toHaveLength(1);
  });

  test("logs each different title", () => {
    const { logger, lines } = collector();

    reportUnknownTitle(logger, "Case Was Mailed To Mars");
    reportUnknownTitle(logger, "Case Was Mailed To Venus");

    expect(lines.map((line) => line.title)).toEqual([
      "Case Was Mailed To Mars",
      "Case Was Mailed To Venus",
    ]);
  });

  test("a reset starts over, as a new process would", () => {
    const { logger, lines } = collector();

    reportUnknownTitle(logger, "Case Was Mailed To Mars");
    resetUnknownTitles();
    reportUnknownTitle(logger, "Case Was Mailed To Mars");

    expect(lines).toHaveLength(2);
  });

  test("an empty title is not worth a line", () => {
    const { logger, lines } = collector();

    expect(reportUnknownTitle(logger, "  ")).toBe(false);
    expect(lines).toHaveLength(0);
  });

  test("stops logging after many distinct titles, so memory stays bounded", () => {
    const { logger, lines } = collector();

    for (let n = 0; n < 600; n++) reportUnknownTitle(logger, `Made Up Title ${n}`);

    expect(lines.length).toBe(500);
  });
});
