/**
 * The generators behind the route fuzzing: near-valid values for every field the API knows,
 * the junk a hostile or careless caller sends instead, and the pieces of an HTTP request
 * (path segments, query strings, headers, raw bodies). Values that depend on the fuzz world
 * (a real user id, the current sign-in code) are written as `{{name}}` placeholders and filled
 * in when the request is sent, so a counterexample prints as readable text.
 */
import fc from "fast-check";
import { EventTypes } from "../../src/events/events.ts";
import { encodeCursor } from "../../src/http/pagination.ts";
import { Categories } from "../../src/uscis/catalogue.ts";

/** One character of each width in UTF-8, repeated past the limits fields have. */
const RepeatedChars = ["a", "é", "😀", "0", " "];
const RepeatCounts = [101, 201, 255, 2049, 5000];

export type Arb<T> = fc.Arbitrary<T>;

/** Strings that have broken parsers, queries and templates somewhere before. */
export const NastyStrings = [
  "",
  " ",
  "\t\n",
  "\u0000",
  "null",
  "undefined",
  "true",
  "0",
  "-1",
  "1e3",
  "NaN",
  "Infinity",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "../../../../etc/passwd",
  "..%2F..%2Fetc%2Fpasswd",
  "<script>alert(1)</script>",
  "' OR '1'='1' --",
  '"; DROP TABLE users; --',
  `\${7*7}{{7*7}}`,
  "%s%s%s%n",
  "\u202eevil",
  "\ud800",
  "\udfff\ud800",
  "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 👩‍👩‍👧‍👦",
  "ＥＡＣ９９９９１０３４０３",
  "EAC9999103403",
  "FLOW0000001",
  "ﷺ",
  "\u00a0\u2000\u3000",
];

const nasty = fc.constantFrom(...NastyStrings);

/** Any string, from short ASCII to lone surrogates and graphemes, sometimes very long. */
export const junkString: Arb<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: nasty },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 30 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...RepeatedChars), fc.constantFrom(...RepeatCounts))
      .map(([char, times]) => char.repeat(times)),
  },
);

/** Any JSON value of a few levels, including the wrong type for every field. */
export const junkValue: Arb<unknown> = fc.oneof(
  { weight: 3, arbitrary: junkString },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.boolean() },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.constantFrom(0, -0, -1, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER, 1e21, 5e-324),
    ),
  },
  { weight: 1, arbitrary: fc.array(fc.oneof(junkString, fc.integer()), { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.dictionary(junkString, fc.oneof(junkString, fc.integer())) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      { toString: "" },
      { valueOf: 1, toString: 1 },
      { toJSON: "x" },
      { constructor: { prototype: { polluted: "yes" } } },
      { hasOwnProperty: "x", length: 3 },
      [{ toString: null }],
    ),
  },
);

/** Usually the valid kind of value, sometimes anything at all. */
export const mostly = <T>(valid: Arb<T>): Arb<unknown> =>
  fc.oneof({ weight: 6, arbitrary: valid as Arb<unknown> }, { weight: 1, arbitrary: junkValue });

/** `{{name}}`: filled in from the fuzz world when the request is sent. */
export const placeholder = (name: string) => `{{${name}}}`;

export const email: Arb<string> = fc.oneof(
  { weight: 3, arbitrary: fc.emailAddress() },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      placeholder("acmeEmail"),
      placeholder("rivalEmail"),
      ` ${placeholder("acmeEmail")} `,
      "ANA@EXAMPLE.COM",
      "a@b.co",
      `${"x".repeat(64)}@example.com`,
      `${"x".repeat(65)}@example.com`,
      `ana@${"d".repeat(250)}.com`,
      "ana@example",
      "@example.com",
      "ana@@example.com",
      "ana@exämple.com",
      "анна@пример.рф",
      "ana+tag@example.com",
      "ana@example.com\u0000",
    ),
  },
);

/** Mostly one of the valid values, sometimes a near miss. */
const usually = <T, U>(valid: Arb<T>, nearMiss: Arb<U>): Arb<T | U> =>
  fc.oneof({ weight: 4, arbitrary: valid as Arb<T | U> }, { weight: 1, arbitrary: nearMiss });

export const personName: Arb<unknown> = usually(
  fc.oneof(fc.string({ minLength: 1, maxLength: 60 }), fc.constant(null)),
  fc.oneof(fc.string({ unit: "grapheme", maxLength: 210 }), nasty),
);

export const phone: Arb<unknown> = usually(
  fc.oneof(fc.stringMatching(/^\+[1-9][0-9]{6,14}$/), fc.constant(null)),
  fc.oneof(fc.constantFrom("+1", "+0123456789", "5511999990000", "+55 11 99999 0000"), nasty),
);

export const language = usually(
  fc.constantFrom("en", "es", "pt"),
  fc.constantFrom("EN", "fr", "", "pt-BR"),
);
export const userStatus = usually(
  fc.constantFrom("active", "disabled"),
  fc.constantFrom("ACTIVE", "deleted", "", "active "),
);
export const bool: Arb<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constantFrom("true", "false", 0, 1, null) },
);

/** Receipts as people type them, valid and not. */
export const receipt: Arb<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.constantFrom("EAC", "LIN", "WAC", "SRC", "IOE", "MSC", "NBC"),
        fc.nat(9_999_999_999),
      )
      .map(([center, n]) => `${center}${String(n).padStart(10, "0")}`),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "eac-99-991-03403",
      "EAC 999 910 3403",
      "EAC\u00a09999103403",
      "EAC\u20139999\u2014103403",
      "ＥＡＣ９９９９１０３４０３",
      "EAC*999910340",
      "EAC9999100000",
      "EAC999910340",
      "EAC99991034033",
      "E4C9999103403",
      "EAC.9999.1034.03",
      "ΕΑC9999103403",
      "EAC٩٩٩٩١٠٣٤٠٣",
      "EAC 9999 1034 03".repeat(7),
    ),
  },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z]{3}[-. *]?[0-9*]{9,11}$/) },
  { weight: 1, arbitrary: junkString },
);

export const description: Arb<unknown> = usually(
  fc.oneof(fc.string({ maxLength: 60 }), fc.constant(null), fc.constant("é".repeat(200))),
  fc.oneof(fc.constantFrom("x".repeat(201), " ".repeat(10), "😀".repeat(101)), nasty),
);

/** Webhook and logo URLs: public, private, malformed, credentialed, overlong. */
export const url: Arb<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "https://hooks.fuzz.example/immigraflow",
      "https://93.184.215.14/hook",
      "https://[2606:4700::1]/hook",
      "https://hooks.fuzz.example:8443/a?b=c#d",
      "https://HOOKS.FUZZ.EXAMPLE/%2e%2e/",
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "http://hooks.fuzz.example/plain",
      "https://127.0.0.1/hook",
      "https://localhost/hook",
      "https://10.0.0.7/hook",
      "https://169.254.169.254/latest/meta-data/",
      "https://[::1]/hook",
      "https://[::ffff:127.0.0.1]/hook",
      "https://0x7f000001/hook",
      "https://2130706433/hook",
      "https://private.fuzz.example/hook",
      "https://unresolvable.fuzz.invalid/hook",
      "https://user:pass@hooks.fuzz.example/",
      "ftp://hooks.fuzz.example/",
      "javascript:alert(1)",
      "data:text/html,<b>x</b>",
      "https://",
      "https:///path",
      "//hooks.fuzz.example/",
      " https://hooks.fuzz.example/ ",
      `https://hooks.fuzz.example/${"a".repeat(2030)}`,
      `https://hooks.fuzz.example/${"a".repeat(2100)}`,
      "https://xn--nxasmq6b.fuzz.example/",
      "https://ünïcödé.fuzz.example/",
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom("https", "http"), fc.domain(), fc.webPath(), fc.webQueryParameters())
      .map(([scheme, host, path, query]) => `${scheme}://${host}.fuzz.example${path}?${query}`),
  },
  { weight: 1, arbitrary: junkString },
);

const validEvent = fc.constantFrom(...EventTypes, "*");
const eventName = fc.oneof(validEvent, fc.constantFrom("case.*", "CASE.CREATED", ""));
export const events: Arb<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.array(validEvent, { minLength: 1, maxLength: 4 }) },
  { weight: 1, arbitrary: fc.array(eventName, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.array(eventName, { minLength: 11, maxLength: 14 }) },
  { weight: 1, arbitrary: fc.array(junkValue, { maxLength: 3 }) },
);

export const loginCode: Arb<string> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.constantFrom(placeholder("loginCode"), ` ${placeholder("loginCode")} `),
  },
  { weight: 2, arbitrary: fc.stringMatching(/^[0-9]{6}$/) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("000000", "12345", "1234567", "١٢٣٤٥٦", "12 34 56", "abcdef"),
  },
);

/** Ids in paths and queries: the world's own, the neighbours', and every way to misspell one. */
export const idText: Arb<string> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "0",
      "-1",
      "1.5",
      "1e3",
      "0x10",
      "00001",
      "9007199254740993",
      "999999999999999",
      "1000000000000000",
      "99999999999999999999999999",
      " 1",
      "1 ",
      "１",
      "٣",
      "NaN",
      "Infinity",
      "true",
      "null",
      "abc",
      "..",
      ".",
      "%2e%2e",
      "__proto__",
      "constructor",
    ),
  },
  { weight: 2, arbitrary: fc.integer({ min: -5, max: 100 }).map(String) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String) },
  { weight: 1, arbitrary: junkString },
);

export const userId: Arb<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(placeholder("acmeUser")) },
  { weight: 1, arbitrary: fc.constant(placeholder("rivalUser")) },
  { weight: 2, arbitrary: idText },
);

export const caseRef: Arb<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      placeholder("acmeCase"),
      placeholder("acmeFlow"),
      ` ${placeholder("acmeFlow")} `,
      placeholder("rivalCase"),
      placeholder("rivalFlow"),
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "FLOW0000000",
      "flow1234567",
      "FLOW12345678",
      "FLOW",
      "FLOW-1",
      "FLOW１２３４５６７",
      "F".repeat(33),
    ),
  },
  { weight: 1, arbitrary: fc.stringMatching(/^FLOW[0-9]{7}$/) },
  { weight: 2, arbitrary: idText },
);

export const webhookId: Arb<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(placeholder("acmeWebhook")) },
  { weight: 1, arbitrary: fc.constant(placeholder("rivalWebhook")) },
  { weight: 2, arbitrary: idText },
);

export const docsAsset: Arb<string> = fc.oneof(
  fc.constantFrom(
    "swagger-ui.css",
    "swagger-ui-bundle.js",
    "SWAGGER-UI.CSS",
    "swagger-ui.css.map",
    "../package.json",
    "..%2F..%2Fpackage.json",
    "%2e%2e%2fsrc%2fapp.ts",
    "__proto__",
    "constructor",
    "toString",
    "hasOwnProperty",
    "valueOf",
  ),
  junkString,
);

// Query parameters are text on the wire; these are what shows up in real logs.

export const limitText: Arb<string> = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 200 }).map(String) },
  { weight: 1, arbitrary: fc.integer({ min: -5, max: 260 }).map(String) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("", "201", "50.5", "1e2", "0x10", " 5", "abc", "NaN", "-0", "1,2"),
  },
  { weight: 1, arbitrary: fc.constantFrom("99999999999999999999", "Infinity", "null", "[]") },
);

export const cursorText: Arb<string> = fc.oneof(
  { weight: 4, arbitrary: fc.nat(1000).map(encodeCursor) },
  { weight: 1, arbitrary: fc.nat().map(encodeCursor) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "",
      encodeCursor(0),
      encodeCursor(Number.MAX_SAFE_INTEGER),
      Buffer.from("v1:999999999999999").toString("base64url"),
      Buffer.from("v1:9999999999999999").toString("base64url"),
      Buffer.from("v1:-1").toString("base64url"),
      Buffer.from("v1:1 OR 1=1").toString("base64url"),
      Buffer.from("v2:5").toString("base64url"),
      "====",
      "djE6NQ==",
      "%%%",
      "c".repeat(201),
    ),
  },
  { weight: 1, arbitrary: fc.base64String({ maxLength: 40 }) },
  { weight: 1, arbitrary: junkString },
);

export const boolText = usually(
  fc.constantFrom("true", "false"),
  fc.constantFrom("TRUE", "1", "0", "yes", ""),
);

export const categoryText: Arb<string> = usually(
  fc.constantFrom(...Categories),
  fc.oneof(fc.constantFrom("APPROVED", "approved ", ""), junkString),
);

export const timestampText: Arb<string> = fc.oneof(
  fc
    .date({ min: new Date("1970-01-01"), max: new Date("2100-01-01"), noInvalidDate: true })
    .map((date) => date.toISOString()),
  fc.constantFrom(
    "2026-05-04T00:00:00Z",
    "2026-05-04T00:00:00+05:30",
    "2026-05-04",
    "2026-05-04T00:00:00",
    "2026-13-45T99:99:99Z",
    "0000-00-00T00:00:00Z",
    "+275760-09-13T00:00:00.000Z",
    "-271821-04-20T00:00:00.000Z",
    "+275760-09-14T00:00:00.000Z",
    "9999999999999",
    "now",
    "2026-05-04T00:00:00.000000000001Z",
  ),
  junkString,
);

export const verifyTokenText: Arb<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(placeholder("verifyToken")) },
  {
    weight: 2,
    arbitrary: fc.constantFrom("", "garbage", `ifv_${"x".repeat(43)}`, `ifv_${"x".repeat(44)}`),
  },
  { weight: 1, arbitrary: junkString },
);

/** Raw pieces that are not valid percent-encoding or that smuggle separators. */
const RawSegments = [
  "..%2F..%2Fetc%2Fpasswd",
  "%2e%2e%2f",
  "%00",
  "%ZZ",
  "%",
  "%E0%A4%A",
  "%C0%AF",
  "a%2Fb",
  "%E2%80%AE",
  "%F0%9F%98%80",
  "..",
  ".",
  "%20",
  "+",
];

/** A path segment as it goes on the wire: encoded text or a deliberately raw oddity. */
export const pathSegment = (value: Arb<string>): Arb<string> =>
  fc.oneof(
    { weight: 6, arbitrary: value.map(encodeSegment) },
    { weight: 1, arbitrary: fc.constantFrom(...RawSegments) },
  );

/** Placeholders stay readable; everything else is percent-encoded. */
function encodeSegment(value: string): string {
  return value
    .split(/(\{\{[A-Za-z]+\}\})/)
    .map((part) => (/^\{\{[A-Za-z]+\}\}$/.test(part) ? part : safeEncode(part)))
    .join("");
}

/** encodeURIComponent, except that lone surrogates are sent as raw junk instead of throwing. */
function safeEncode(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return "%ED%A0%80";
  }
}

/** A query string from known parameters (any subset), junk ones, repeats and raw oddities. */
export function queryString(fields: Record<string, Arb<string>>): Arb<string> {
  const known = fc.record(fields, { requiredKeys: [] });
  const extras = fc.array(
    fc.oneof(
      fc.tuple(junkString, junkString).map(([k, v]) => `${safeEncode(k)}=${safeEncode(v)}`),
      fc.constantFrom(...RawSegments).map((raw) => `${raw}=${raw}`),
      fc.constantFrom(...Object.keys(fields), "limit").map((k) => `${k}=1&${k}=2`),
      fc.constantFrom("&&", "=", "a", "a=", "=a", "__proto__[x]=1", "constructor[prototype][x]=1"),
    ),
    { maxLength: 3 },
  );
  return fc
    .tuple(
      known,
      fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: extras }),
    )
    .map(([values, junk]) => {
      const parts = Object.entries(values as Record<string, string>).map(
        ([key, value]) => `${key}=${value.includes("{{") ? value : safeEncode(value)}`,
      );
      const all = [...parts, ...junk];
      return all.length === 0 ? "" : `?${all.join("&")}`;
    });
}

/** Header values a Headers object accepts: Latin-1 without control characters. */
const headerChar = fc
  .integer({ min: 0x20, max: 0xff })
  .filter((code) => code < 0x7f || code > 0x9f)
  .map((code) => String.fromCharCode(code));

export const headerValue: Arb<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: headerChar, maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom("a", "é", " ", "%"), fc.constantFrom(129, 1_000, 8_192, 40_000))
      .map(([char, times]) => char.repeat(times)),
  },
);

export const contentType: Arb<string | undefined> = fc.oneof(
  { weight: 24, arbitrary: fc.constant("application/json") },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      "application/json; charset=utf-8",
      "APPLICATION/JSON",
      "application/json;charset=latin1",
      "application/merge-patch+json",
      "application/vnd.api+json",
      " application/json ",
      "application/json, text/plain",
      "text/json",
      "text/plain",
      "text/html",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=xyz",
      "application/octet-stream",
      "application/xml",
      "",
      ";",
      "*/*",
    ),
  },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: headerValue },
);

/** Headers a client might add besides credentials and content type. */
export const extraHeaders: Arb<Record<string, string>> = fc.record(
  {
    "x-request-id": fc.oneof(
      fc.constantFrom(
        "req-123",
        "a".repeat(128),
        "a".repeat(129),
        "../../x",
        "<b>",
        "id with space",
      ),
      headerValue,
    ),
    accept: fc.constantFrom(
      "application/json",
      "text/html",
      "*/*",
      "text/html,application/json;q=0.9",
      "application/json;q=0",
      "image/png",
      "",
    ),
    "accept-language": fc.oneof(fc.constantFrom("pt-BR,pt;q=0.9", "es", "zz", "*"), headerValue),
    origin: fc.constantFrom("https://app.example", "https://evil.example", "null", "", "*"),
    "x-forwarded-for": fc.oneof(
      fc.constantFrom("203.0.113.9", "::1", "1.1.1.1, 2.2.2.2"),
      headerValue,
    ),
    cookie: headerValue,
    "if-none-match": headerValue,
    "x-http-method-override": fc.constantFrom("DELETE", "PUT", "GET"),
    "x-junk": headerValue,
  },
  { requiredKeys: [] },
);

/** A JSON object from the route's real fields (any subset), plus unknown and hostile keys. */
export function nearValidObject(
  fields: Record<string, Arb<unknown>>,
): Arb<Record<string, unknown>> {
  const extra = fc.dictionary(
    fc.oneof(junkString, fc.constantFrom("id", "client_id", "user_id", "secret", "created_at")),
    junkValue,
    { maxKeys: 2 },
  );
  return fc
    .tuple(
      fc.record(fields, { requiredKeys: [] }),
      fc.oneof({ weight: 4, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: extra }),
    )
    .map(([known, unknown]) => ({ ...unknown, ...known }));
}

/** Keys a JSON parser hands over as own properties and a careless merge turns into a prototype. */
const PollutionEntries = [
  '"__proto__": {"polluted": "yes", "isAdmin": true}',
  '"constructor": {"prototype": {"polluted": "yes"}}',
  '"__proto__": null',
  '"prototype": {"polluted": "yes"}',
];

/** The JSON text of a body, sometimes with a prototype-pollution key spliced in. */
export function jsonText(value: Arb<unknown>): Arb<string> {
  return fc
    .tuple(
      value,
      fc.oneof(
        { weight: 5, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.constantFrom(...PollutionEntries) },
      ),
    )
    .map(([body, pollution]) => {
      const text = JSON.stringify(body) ?? "null";
      if (!pollution || !text.startsWith("{")) return text;
      return text === "{}" ? `{${pollution}}` : `{${pollution},${text.slice(1)}`;
    });
}

/** Bodies that are not what any route expects, as raw bytes or text. */
export const rawBody: Arb<string | Uint8Array> = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.constantFrom(
    "{",
    '{"a":',
    "[1,2",
    "{'single': 'quotes'}",
    '{"a":1}garbage',
    '{"a":1}{"b":2}',
    "NaN",
    "undefined",
    '{"limit": 1e400}',
    '{"email": "\\ud800"}',
    '{"email": "a\\u0000@example.com"}',
    `{"x": "${"a".repeat(70 * 1024)}"}`,
    `${"[".repeat(20_000)}${"]".repeat(20_000)}`,
    `${'{"a":'.repeat(5_000)}1${"}".repeat(5_000)}`,
    "\ufeff{}",
    "   ",
    "email=ana%40example.com",
    '--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--xyz--',
  ),
  fc.uint8Array({ maxLength: 40 }),
  fc.constantFrom(
    new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]),
    new Uint8Array([0xc0, 0xaf]),
    new Uint8Array(65 * 1024).fill(0x20),
  ),
);
