import {
  type IntegerOptions,
  type TInteger,
  type TLiteral,
  type TSchema,
  type TString,
  type TUnion,
  Type,
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
 * No C0 controls, DEL or bidirectional overrides: names and descriptions end up in e-mails,
 * WhatsApp messages and the back office, where a NUL or a right-to-left override would hide
 * or reorder what people read.
 */
export const PlainTextPattern = "^[^\\u0000-\\u001F\\u007F\\u202A-\\u202E\\u2066-\\u2069]*$";

/** Free text of one line, as a person would type it. */
export function plainText(options: { minLength?: number; maxLength: number }): TString {
  return Type.String({ ...options, pattern: PlainTextPattern });
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
