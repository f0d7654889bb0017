import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  ConfigError,
  configWarnings,
  FlagVariables,
  FlagWords,
  loadConfig,
} from "../src/config.ts";

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env, false);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("configuration", () => {
  test("nothing configured gives a laptop's defaults", () => {
    const config = loadConfig({}, false);
    expect(config).toMatchObject({
      port: 3000,
      databasePath: "./data/immigraflow.db",
      uscisMode: "simulator",
      checkIntervalMinutes: 360,
      checkerCron: "* * * * *",
      logFormat: "json",
      publicBaseUrl: "http://localhost:3000",
    });
  });

  test("a terminal gets pretty logs by default", () => {
    expect(loadConfig({}, true).logFormat).toBe("pretty");
  });

  test("mode picks the USCIS defaults, each overridable", () => {
    const sandbox = loadConfig(
      { USCIS_MODE: "sandbox", USCIS_CLIENT_ID: "id", USCIS_CLIENT_SECRET: "s" },
      false,
    );
    expect(sandbox).toMatchObject({
      uscisApiBaseUrl: "https://api-int.uscis.gov",
      uscisTokenUrl: "https://api-int.uscis.gov/oauth/accesstoken",
      uscisRatePerSecond: 5,
      uscisDailyQuota: 1000,
    });
    const production = loadConfig(
      {
        USCIS_MODE: "production",
        USCIS_CLIENT_ID: "id",
        USCIS_CLIENT_SECRET: "s",
        USCIS_DAILY_QUOTA: "150000",
        USCIS_API_BASE_URL: "http://127.0.0.1:9999/",
      },
      false,
    );
    expect(production).toMatchObject({
      uscisRatePerSecond: 10,
      uscisDailyQuota: 150000,
      uscisApiBaseUrl: "http://127.0.0.1:9999",
    });
  });

  test("every bad value is named by its variable", () => {
    const found = problems({
      PORT: "eighty",
      USCIS_MODE: "staging",
      LOG_FORMAT: "xml",
      CHECK_INTERVAL_MINUTES: "0",
      CHECKER_CRON: "every minute",
      CORS_ORIGINS: "not an origin",
    });
    for (const name of [
      "PORT",
      "USCIS_MODE",
      "LOG_FORMAT",
      "CHECK_INTERVAL_MINUTES",
      "CHECKER_CRON",
      "CORS_ORIGINS",
    ]) {
      expect(found.some((p) => p.startsWith(`${name}:`))).toBe(true);
    }
  });

  test("numbers are plain decimals and base URLs are http(s)", () => {
    const found = problems({
      PORT: "0x10",
      CHECK_INTERVAL_MINUTES: "1e3",
      RESEND_BASE_URL: "ftp://x",
    });
    for (const name of ["PORT", "CHECK_INTERVAL_MINUTES", "RESEND_BASE_URL"]) {
      expect(found.some((p) => p.startsWith(`${name}:`))).toBe(true);
    }
    expect(loadConfig({ PORT: "8080", RESEND_BASE_URL: "http://127.0.0.1:9000" }, false).port).toBe(
      8080,
    );
  });

  test("a USCIS base URL of one's own brings its own token URL unless that is set too", () => {
    const sandbox = { USCIS_MODE: "sandbox", USCIS_CLIENT_ID: "x", USCIS_CLIENT_SECRET: "y" };
    const local = loadConfig({ ...sandbox, USCIS_API_BASE_URL: "http://127.0.0.1:4011/" }, false);
    expect(local.uscisApiBaseUrl).toBe("http://127.0.0.1:4011");
    expect(local.uscisTokenUrl).toBe("http://127.0.0.1:4011/oauth/accesstoken");
    const both = loadConfig(
      {
        ...sandbox,
        USCIS_API_BASE_URL: "http://127.0.0.1:4011",
        USCIS_TOKEN_URL: "http://127.0.0.1:4012/token",
      },
      false,
    );
    expect(both.uscisTokenUrl).toBe("http://127.0.0.1:4012/token");
  });

  test("a choice of words is refused with the words it takes", () => {
    const found = problems({ LOG_LEVEL: "loud", LOG_FORMAT: "xml" });
    expect(found).toContain(
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
    );
    expect(found).toContain('LOG_FORMAT: must be one of json, pretty (got "xml")');
  });

  test("PUBLIC_BASE_URL is refused in words, not as a pattern", () => {
    expect(problems({ PUBLIC_BASE_URL: "notaurl" })).toEqual([
      'PUBLIC_BASE_URL: "notaurl" must be an http or https URL',
    ]);
    const set = loadConfig({ PUBLIC_BASE_URL: "https://cases.example/" }, false);
    expect(set.publicBaseUrl).toBe("https://cases.example");
  });

  test("EMAIL_FROM and EMAIL_REPLY_TO take what Resend takes, with or without a key", () => {
    for (const bad of ["bad", "Acme cases@acme.example", "<cases@acme.example", "a@b", "a b@c.d"]) {
      const envs: Record<string, string>[] = [
        { EMAIL_FROM: bad },
        { EMAIL_FROM: bad, RESEND_API_KEY: "re_x" },
      ];
      for (const env of envs) {
        expect(problems(env).some((p) => p.startsWith("EMAIL_FROM:"))).toBe(true);
      }
      expect(problems({ EMAIL_REPLY_TO: bad }).some((p) => p.startsWith("EMAIL_REPLY_TO:"))).toBe(
        true,
      );
    }
    for (const good of ["cases@acme.example", "Acme Law <cases@acme.example>", "<a@b.co>"]) {
      expect(problems({ EMAIL_FROM: good, EMAIL_REPLY_TO: good })).toEqual([]);
    }
  });

  test("PORT=0 without PUBLIC_BASE_URL warns: e-mail links would say localhost:0", () => {
    expect(configWarnings(loadConfig({ PORT: "0" }, false))).toEqual([
      expect.stringMatching(/^PUBLIC_BASE_URL: not set with PORT=0/),
    ]);
    expect(
      configWarnings(loadConfig({ PORT: "0", PUBLIC_BASE_URL: "http://x.example" }, false)),
    ).toEqual([]);
    expect(configWarnings(loadConfig({}, false))).toEqual([]);
  });

  test("sandbox and production need credentials", () => {
    const found = problems({ USCIS_MODE: "production" });
    expect(found.some((p) => p.startsWith("USCIS_CLIENT_ID:"))).toBe(true);
    expect(found.some((p) => p.startsWith("USCIS_CLIENT_SECRET:"))).toBe(true);
  });

  test("a six-field cron pattern with seconds is accepted", () => {
    expect(loadConfig({ CHECKER_CRON: "*/10 * * * * *" }, false).checkerCron).toBe(
      "*/10 * * * * *",
    );
  });

  test("a cron pattern croner cannot read is refused at start-up", () => {
    expect(
      problems({ CHECKER_CRON: "99 * * * *" }).some((p) => p.startsWith("CHECKER_CRON:")),
    ).toBe(true);
  });

  test("README's settings table lists exactly the variables that are read", async () => {
    const read = new Set<string>();
    const env = new Proxy({} as Record<string, string | undefined>, {
      get(_, name) {
        if (typeof name === "string") read.add(name);
        return undefined;
      },
    });
    loadConfig(env, false);

    const readme = await Bun.file(join(import.meta.dir, "..", "README.md")).text();
    const table = readme.slice(readme.indexOf("## Settings"), readme.indexOf("## Command line"));
    const listed = new Set<string>();
    for (const row of table.split("\n").filter((line) => line.startsWith("| `"))) {
      const cell = row.split("|")[1] ?? "";
      const names = [...cell.matchAll(/`([A-Z_]+)`/g)].map((match) => match[1]!);
      // `TWILIO_CONTENT_SID_EN`, `_ES`, `_PT`: the suffixes continue the first name.
      const stem = names[0]?.replace(/_[A-Z]+$/, "") ?? "";
      for (const name of names) listed.add(name.startsWith("_") ? `${stem}${name}` : name);
    }
    expect([...read].sort()).toEqual([...listed].sort());
  });
});

describe("switches", () => {
  test("every switch reads the same words, in any letter case", () => {
    expect(FlagVariables.sort()).toEqual(
      ["TRUST_FORWARDED_FOR", "WEBHOOK_ALLOW_HTTP", "WEBHOOK_ALLOW_PRIVATE"].sort(),
    );
    const settingOf: Record<string, keyof ReturnType<typeof loadConfig>> = {
      TRUST_FORWARDED_FOR: "trustForwardedFor",
      WEBHOOK_ALLOW_HTTP: "webhookAllowHttp",
      WEBHOOK_ALLOW_PRIVATE: "webhookAllowPrivate",
    };
    for (const name of FlagVariables) {
      for (const [words, expected] of [
        [FlagWords.on, true],
        [FlagWords.off, false],
      ] as const) {
        for (const word of words.flatMap((w) => [w, w.toUpperCase(), ` ${w} `])) {
          expect(loadConfig({ [name]: word }, false)[settingOf[name]!], `${name}=${word}`).toBe(
            expected,
          );
        }
      }
      expect(loadConfig({ [name]: "" }, false)[settingOf[name]!]).toBe(false);
    }
  });

  test("any other word stops start-up, naming the variable and the words it takes", () => {
    for (const name of FlagVariables) {
      for (const word of ["on", "off", "y", "enabled", "2", "truee"]) {
        const found = problems({ [name]: word });
        expect(found, `${name}=${word}`).toHaveLength(1);
        expect(found[0]).toStartWith(`${name}: "${word}"`);
        for (const accepted of [...FlagWords.on, ...FlagWords.off]) {
          expect(found[0]).toContain(accepted);
        }
      }
    }
  });

  test("README names the switches and the words they take", async () => {
    const readme = await Bun.file(join(import.meta.dir, "..", "README.md")).text();
    const settings = readme.slice(readme.indexOf("## Settings"), readme.indexOf("## Command line"));
    const paragraph = settings.split("\n\n").find((part) => part.startsWith("The switches")) ?? "";
    for (const name of FlagVariables) expect(paragraph).toContain(`\`${name}\``);
    for (const word of [...FlagWords.on, ...FlagWords.off]) {
      expect(paragraph).toContain(`\`${word}\``);
    }
  });
});
