import { describe, expect, test } from "bun:test";
import { normalizeReceipt } from "../../src/uscis/receipt.ts";

function receiptOf(input: unknown): string {
  const result = normalizeReceipt(input);
  if (!result.ok)
    throw new Error(`expected ${JSON.stringify(input)} to be valid: ${result.message}`);
  return result.receipt;
}

function issueOf(input: unknown) {
  const result = normalizeReceipt(input);
  if (result.ok) throw new Error(`expected ${JSON.stringify(input)} to be refused`);
  return result;
}

describe("normalizeReceipt accepts what people type", () => {
  test.each([
    ["EAC9999103403", "EAC9999103403"],
    ["eac9999103403", "EAC9999103403"],
    ["  EAC 999 910 3403 ", "EAC9999103403"],
    ["eac-15-123-45678", "EAC1512345678"],
    ["EAC.15.123.45678", "EAC1512345678"],
    ["EAC\u00A01512345678", "EAC1512345678"],
    ["EAC\u202F15\u200B12345678", "EAC1512345678"],
    ["EAC\u20101512345678", "EAC1512345678"],
    ["EAC\u20111512345678", "EAC1512345678"],
    ["EAC\u2012\u2013\u2014\u201515\u221212345678", "EAC1512345678"],
    ["EAC\uFE581512345678", "EAC1512345678"],
    ["EAC\uFE631512345678", "EAC1512345678"],
    ["EAC\uFF0D1512345678", "EAC1512345678"],
    ["EAC\u30FB15\u00B712345678", "EAC1512345678"],
    ["ＥＡＣ１２３４５６７８９０", "EAC1234567890"],
    ["ｅａｃ　１２３４５６７８９０", "EAC1234567890"],
    ["\tIOE\n0912345678\r\n", "IOE0912345678"],
    ["EAC*123456789", "EAC*123456789"],
    ["eac＊123456789", "EAC*123456789"],
    ["XYZ1234567890", "XYZ1234567890"],
  ])("%j -> %s", (input, expected) => {
    expect(receiptOf(input)).toBe(expected);
  });

  test("keeps a leading zero: the digits are never a number", () => {
    const receipt = receiptOf("IOE0000000001");
    expect(receipt).toBe("IOE0000000001");
    expect(typeof receipt).toBe("string");
    expect(receiptOf("ioe-0012345678")).toBe("IOE0012345678");
  });
});

describe("normalizeReceipt refuses with a named issue", () => {
  test.each([[""], ["   "], ["\u00A0-\u2013."]])("empty %j -> required", (input) => {
    expect(issueOf(input)).toEqual({
      ok: false,
      issue: "required",
      message: "receipt_number is required",
    });
  });

  test.each([[null], [undefined], [1512345678], [{ receipt: "EAC1512345678" }], [["EAC"]]])(
    "not a string (%p) -> required",
    (input) => {
      expect(issueOf(input).issue).toBe("required");
    },
  );

  test("12 characters -> length, naming the count", () => {
    expect(issueOf("EAC151234567")).toEqual({
      ok: false,
      issue: "length",
      message: "receipt_number must be 13 characters, got 12",
    });
  });

  test("14 characters -> length", () => {
    const result = issueOf("EAC-151-234-56789");
    expect(result.issue).toBe("length");
    expect(result.message).toBe("receipt_number must be 13 characters, got 14");
  });

  test("counts what the person sees, not UTF-16 units", () => {
    expect(issueOf("EAC151234567😀").issue).toBe("format");
  });

  test("letter O for a zero -> format, with the position and a hint", () => {
    const result = issueOf("EAC15123O5678");
    expect(result.issue).toBe("format");
    expect(result.message).toBe(
      "receipt_number must be 3 letters then 10 digits; found a letter where a digit belongs " +
        "(position 9); the letter O may be meant as the digit 0",
    );
  });

  test("a digit among the letters -> format at that position", () => {
    const result = issueOf("E4C1512345678");
    expect(result.issue).toBe("format");
    expect(result.message).toContain("found a digit where a letter belongs (position 2)");
  });

  test("a symbol -> format, quoting it", () => {
    expect(issueOf("EAC15123#5678").message).toContain(
      'found "#" where a digit belongs (position 9)',
    );
  });

  test("an accented letter is not one of the 3 letters", () => {
    expect(issueOf("ÉAC1512345678").message).toContain("where a letter belongs (position 1)");
  });

  test("* only right after the letters", () => {
    const result = issueOf("EAC1*12345678");
    expect(result.issue).toBe("format");
    expect(result.message).toContain('"*" may only stand right after the 3 letters (position 5)');
  });
});
