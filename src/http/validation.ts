import { Kind } from "@sinclair/typebox";
import { ValueErrorType } from "@sinclair/typebox/errors";
import type { ErrorDetail } from "./errors.ts";
import { IdPattern } from "./ids.ts";
import { LimitPattern } from "./pagination.ts";
import { PlainTextKind, type PlainTextLimits, plainTextProblem } from "./schema.ts";

interface IssueSchema {
  type?: string;
  const?: unknown;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  anyOf?: IssueSchema[];
}

interface TypeBoxIssue {
  path: string;
  message: string;
  type?: number;
  value?: unknown;
  schema?: IssueSchema;
}

/** Turns the framework's validation failure into API.md's details: one entry per field. */
export function validationDetails(
  on: string,
  issues: TypeBoxIssue[],
): { message: string; details: ErrorDetail[] } {
  const details: ErrorDetail[] = [];
  const seen = new Set<string>();
  for (const raw of issues) {
    const issue = described(raw);
    const field = issue.path.replace(/^\//, "").replaceAll("/", ".") || on;
    if (seen.has(field)) continue;
    seen.add(field);
    details.push({ field, issue: issueWord(issue) });
  }
  const first = issues[0] && described(issues[0]);
  const firstField = details[0]?.field ?? on;
  const message = first ? `${firstField}: ${describe(first)}` : `the request ${on} is not valid`;
  return { message, details };
}

/** The issue as the caller should read it: within a union, or a plain-text field's own. */
function described(issue: TypeBoxIssue): TypeBoxIssue {
  if (isPlainText(issue.schema) && typeof issue.value === "string") {
    return plainTextIssue(issue, issue.schema, issue.value);
  }
  return withinUnion(issue);
}

/**
 * TypeBox reports a union as a whole ("expected union value"). A choice of literals is told as
 * its list; a nullable text (`string | null`) is told by the string's own limit it broke.
 */
function withinUnion(issue: TypeBoxIssue): TypeBoxIssue {
  const members = issue.type === ValueErrorType.Union ? issue.schema?.anyOf : undefined;
  if (!members) return issue;
  if (members.every((member) => typeof member.const === "string")) {
    const choices = members.map((member) => member.const).join(", ");
    return { ...issue, type: undefined, message: `must be one of ${choices}` };
  }
  const text = members.find((member) => member.type === "string");
  const value = issue.value;
  if (!text || typeof value !== "string") return issue;
  if (isPlainText(text)) return plainTextIssue(issue, text, value);
  // Counted as TypeBox counts, in UTF-16 units.
  const length = value.length;
  if (text.maxLength !== undefined && length > text.maxLength) {
    const message = `must be at most ${text.maxLength} characters`;
    return { ...issue, type: ValueErrorType.StringMaxLength, message, schema: text };
  }
  if (text.minLength !== undefined && length < text.minLength) {
    const message = `must be at least ${text.minLength} characters`;
    return { ...issue, type: ValueErrorType.StringMinLength, message, schema: text };
  }
  if (text.pattern !== undefined && !new RegExp(text.pattern).test(value)) {
    return { ...issue, type: ValueErrorType.StringPattern, message: "", schema: text };
  }
  return issue;
}

const isPlainText = (schema: IssueSchema | undefined): schema is IssueSchema & PlainTextLimits =>
  (schema as Record<symbol, unknown> | undefined)?.[Kind] === PlainTextKind;

/** A plain-text field's refusal told by what is wrong, its lengths counted as users count. */
function plainTextIssue(
  issue: TypeBoxIssue,
  schema: IssueSchema & PlainTextLimits,
  value: string,
): TypeBoxIssue {
  const refused = (type: ValueErrorType, message: string) => ({ ...issue, type, message, schema });
  switch (plainTextProblem(value, schema)) {
    case "too_long":
      return refused(
        ValueErrorType.StringMaxLength,
        `must be at most ${schema.maxLength} characters`,
      );
    case "too_short":
      return refused(
        ValueErrorType.StringMinLength,
        `must be at least ${schema.minLength} characters`,
      );
    case "control":
      return refused(ValueErrorType.StringPattern, "must not contain control characters");
    case "unpaired_surrogate":
      return refused(
        ValueErrorType.StringFormat,
        "must be well-formed text: half of a surrogate pair (such as \\ud800) is no character",
      );
    default:
      return issue;
  }
}

function issueWord(issue: TypeBoxIssue): string {
  switch (issue.type) {
    case ValueErrorType.ObjectAdditionalProperties:
      return "unknown_field";
    case ValueErrorType.ObjectRequiredProperty:
      return "required";
    case ValueErrorType.StringMaxLength:
    case ValueErrorType.StringMinLength:
      return "length";
    case ValueErrorType.StringFormat:
    case ValueErrorType.StringPattern:
      return "format";
    default:
      return "invalid";
  }
}

function describe(issue: TypeBoxIssue): string {
  if (issue.type === ValueErrorType.ObjectAdditionalProperties) return "is not a known field";
  if (issue.type === ValueErrorType.ObjectRequiredProperty) return "is required";
  if (issue.schema?.pattern === IdPattern) return "must be a positive integer";
  if (issue.schema?.pattern === LimitPattern) return "must be a whole number from 1 to 200";
  if (isPlainText(issue.schema)) return issue.message;
  if (issue.type === ValueErrorType.StringPattern) return "has the wrong format";
  return issue.message.charAt(0).toLowerCase() + issue.message.slice(1);
}
