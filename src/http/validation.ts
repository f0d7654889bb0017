import { ValueErrorType } from "@sinclair/typebox/errors";
import type { ErrorDetail } from "./errors.ts";
import { IdPattern } from "./ids.ts";
import { LimitPattern } from "./pagination.ts";

interface TypeBoxIssue {
  path: string;
  message: string;
  type?: number;
  schema?: { type?: string; pattern?: string; minLength?: number; maxLength?: number };
}

/** Turns the framework's validation failure into API.md's details: one entry per field. */
export function validationDetails(
  on: string,
  issues: TypeBoxIssue[],
): { message: string; details: ErrorDetail[] } {
  const details: ErrorDetail[] = [];
  const seen = new Set<string>();
  for (const issue of issues) {
    const field = issue.path.replace(/^\//, "").replaceAll("/", ".") || on;
    if (seen.has(field)) continue;
    seen.add(field);
    details.push({ field, issue: issueWord(issue) });
  }
  const first = issues[0];
  const firstField = details[0]?.field ?? on;
  const message = first ? `${firstField}: ${describe(first)}` : `the request ${on} is not valid`;
  return { message, details };
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
  if (issue.type === ValueErrorType.StringPattern) return "has the wrong format";
  return issue.message.charAt(0).toLowerCase() + issue.message.slice(1);
}
