import { type TLiteral, type TSchema, type TUnion, Type } from "@sinclair/typebox";

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
