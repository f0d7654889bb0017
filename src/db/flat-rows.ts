import { Column, is, SQL } from "drizzle-orm";
import type { SelectResultFields } from "drizzle-orm/query-builders/select.types";

type FlatField = Column | SQL | SQL.Aliased;

interface Decoder {
  mapFromDriverValue(value: unknown): unknown;
}

/**
 * Rows of a flat selection from a prepared query's `.values()`, decoded as drizzle's own
 * `.all()` decodes them (null stays null, every other value goes through its column's or its
 * SQL's decoder). drizzle's mapResultRow also walks each field's path, tests every field's class
 * and keeps track of joins' nulls on every cell of every row: on a case read's ten status updates
 * that cost more than reading the columns (41 us of 156 us). Here the class tests run once,
 * and a row is one pass over the values.
 *
 * The selection must be the very object given to `select()`: drizzle lists a selection's
 * columns in its key order, and so does this.
 */
export function flatRows<Selection extends Record<string, FlatField>>(selection: Selection) {
  type Row = SelectResultFields<Selection>;
  const keys = Object.keys(selection);
  const decoders: Decoder[] = keys.map((key) => {
    const field = selection[key]!;
    if (is(field, Column)) return field;
    // Internal to drizzle's types, and what its mapResultRow reads too.
    const sql = (is(field, SQL) ? field : field.sql) as unknown as { decoder: Decoder };
    return sql.decoder;
  });

  /** The row whose first column is `values[from]`, so a query may add columns after it. */
  function read(values: unknown[], from = 0): Row {
    const row: Record<string, unknown> = {};
    for (let i = 0; i < keys.length; i += 1) {
      const value = values[from + i];
      row[keys[i]!] = value === null ? null : decoders[i]!.mapFromDriverValue(value);
    }
    return row as Row;
  }

  return { read, width: keys.length };
}
