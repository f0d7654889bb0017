import {
  type IntegerOptions,
  Kind,
  type TInteger,
  type TLiteral,
  type TSchema,
  type TTransform,
  type TUnion,
  type TUnsafe,
  Type,
  TypeRegistry,
} from "@sinclair/typebox";

type Literals<V extends readonly string[]> = Extract<
  { -readonly [K in keyof V]: TLiteral<V[K]> },
  TSchema[]
>;

/**
 * One of a few strings. Not `t.UnionEnum`: the framework fills a missing UnionEnum field with
 * its first value, which would turn an update that leaves `status` out into `status: active`.
 */
export function oneOf<const V extends readonly string[]>(values: V): TUnion<Literals<V>> {
  return Type.Union(values.map((value) => Type.Literal(value))) as TUnion<Literals<V>>;
}

/**
 * No C0 or C1 controls, DEL, line or paragraph separators, or bidirectional overrides: names
 * and descriptions end up in e-mails, WhatsApp messages and the back office, where a NUL, a
 * line break (U+0085 and U+2028 are ones too) or a right-to-left override would hide or
 * reorder what people read.
 */
export const PlainTextPattern =
  "^[^\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029\\u202A-\\u202E\\u2066-\\u2069]*$";

const PlainTextRegExp = new RegExp(PlainTextPattern);

/** A plain-text field's limits, counted in characters as a person counts them. */
export interface PlainTextLimits {
  minLength?: number;
  maxLength: number;
}

/**
 * Characters as people count them: code points of the NFC form, so an emoji is one (not two
 * UTF-16 units) and an é typed as e + combining accent is one, as it is once composed.
 */
export const characterCount = (text: string): number => {
  let count = 0;
  for (const _ of text.normalize("NFC")) count += 1;
  return count;
};

/** What is wrong with a plain-text value, or null when it is fine. */
export function plainTextProblem(
  value: string,
  limits: PlainTextLimits,
): "unpaired_surrogate" | "control" | "too_long" | "too_short" | null {
  // JSON may carry half of a surrogate pair ("\ud800"), which is no character: SQLite would
  // store it as U+FFFD and the caller would read back something else than it sent.
  if (!value.isWellFormed()) return "unpaired_surrogate";
  if (!PlainTextRegExp.test(value)) return "control";
  const count = characterCount(value);
  if (count > limits.maxLength) return "too_long";
  if (limits.minLength !== undefined && count < limits.minLength) return "too_short";
  return null;
}

export const PlainTextKind = "PlainText";

TypeRegistry.Set<PlainTextLimits>(
  PlainTextKind,
  (schema, value) => typeof value === "string" && plainTextProblem(value, schema) === null,
);

/**
 * Free text of one line, as a person would type it, stored in its NFC form. A kind of its own
 * because TypeBox's minLength and maxLength count UTF-16 units; the document still shows a
 * string with its limits, which JSON Schema counts in code points.
 */
export function plainText(limits: PlainTextLimits): TTransform<TUnsafe<string>, string> {
  const text = Type.Unsafe<string>({
    [Kind]: PlainTextKind,
    type: "string",
    ...limits,
    pattern: PlainTextPattern,
  });
  return Type.Transform(text)
    .Decode((value) => value.normalize("NFC"))
    .Encode((value) => value);
}

/**
 * An integer in a response. Elysia's t.Integer also takes numeric strings, through a
 * transform, which params and queries need; in a response schema any transform makes Elysia
 * run TypeBox's Encode over the whole answer (some 150 µs of a case read with 10 status
 * updates) and shows the field in the OpenAPI document as a string or an integer.
 */
export function integer(options?: IntegerOptions): TInteger {
  return Type.Integer(options);
}
