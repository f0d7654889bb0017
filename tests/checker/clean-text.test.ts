import { expect, test } from "bun:test";
import fc from "fast-check";
import { cleanText } from "../../src/checker/observation.ts";

// Every character JavaScript's \s matches, and some that look like whitespace but are not.
const Whitespace = [
  " ",
  "\t",
  "\n",
  "\v",
  "\f",
  "\r",
  "\u00a0",
  "\u1680",
  "\u2000",
  "\u200a",
  "\u2028",
  "\u2029",
  "\u202f",
  "\u205f",
  "\u3000",
  "\ufeff",
];
const NotWhitespace = ["\u200b", "\u0085", "\u180e", "\u2060", "\u001f", "\u00ad"];
const Pieces = [...Whitespace, ...NotWhitespace, "a", "Z", ".", "<", ">", "&", "amp;", "p", "/"];

test("cleanText skips only text that the full cleaning leaves as it is", () => {
  // A leading "<>" is removed by the tag pass and forces every pass to run: the slow path.
  const slow = (text: string) => cleanText(`<>${text}`);
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...Pieces), { maxLength: 12 }), (pieces) => {
      const text = pieces.join("");
      expect(cleanText(text)).toBe(slow(text));
    }),
    { numRuns: 20_000 },
  );
  for (const space of Whitespace) {
    expect(cleanText(`a${space}b`)).toBe(space === " " ? "a b" : slow(`a${space}b`));
    expect(cleanText(`${space}a`)).toBe("a");
    expect(cleanText(`a${space}`)).toBe("a");
  }
  expect(cleanText("")).toBe("");
});
