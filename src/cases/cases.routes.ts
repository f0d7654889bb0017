import { Elysia, t } from "elysia";
import type { AuthMacro } from "../http/auth.ts";
import { PageQuery } from "../http/pagination.ts";
import { jsonText } from "../http/plumbing.ts";
import { oneOf } from "../http/schema.ts";
import { reachableUser } from "../users/users.routes.ts";
import { UserIdParams } from "../users/users.schemas.ts";
import type { UsersService } from "../users/users.service.ts";
import {
  CaseCreateRequest,
  CaseDetailsResponse,
  CaseList,
  CaseParams,
  CaseUpdateRequest,
} from "./cases.schemas.ts";
import type { CasesService } from "./cases.service.ts";

const BooleanQuery = oneOf(["true", "false"]);

export function casesRoutes(auth: AuthMacro, users: UsersService, cases: CasesService) {
  return new Elysia({ prefix: "/v1/users/:user_id/cases", tags: ["cases"] })
    .use(auth)
    .get(
      "",
      ({ principal, params, query }) => {
        const user = reachableUser(users, principal, Number(params.user_id));
        return cases.list(user, {
          active: query.active === undefined ? undefined : query.active === "true",
          limit: query.limit,
          cursor: query.cursor,
        });
      },
      {
        access: ["partner", "user"],
        params: UserIdParams,
        query: t.Object({ ...PageQuery, active: t.Optional(BooleanQuery) }),
        response: { 200: CaseList },
        detail: { summary: "List a user's cases" },
      },
    )
    .post(
      "",
      ({ principal, params, body, set }) => {
        const user = reachableUser(users, principal, Number(params.user_id));
        return cases.createJson(user, body, (json) => jsonText(set, json, 201));
      },
      {
        access: ["partner", "user"],
        params: UserIdParams,
        body: CaseCreateRequest,
        response: { 201: CaseDetailsResponse },
        detail: { summary: "Watch a receipt for a user" },
      },
    )
    .get(
      "/:case_ref",
      ({ principal, params, set }) => {
        const user = reachableUser(users, principal, Number(params.user_id));
        return cases.getJson(user, params.case_ref, (json) => jsonText(set, json));
      },
      {
        access: ["partner", "user"],
        params: CaseParams,
        response: { 200: CaseDetailsResponse },
        detail: { summary: "A case with its status history, newest first" },
      },
    )
    .put(
      "/:case_ref",
      ({ principal, params, body, set }) => {
        const user = reachableUser(users, principal, Number(params.user_id));
        return cases.updateJson(user, params.case_ref, body, (json) => jsonText(set, json));
      },
      {
        access: ["partner", "user"],
        params: CaseParams,
        body: CaseUpdateRequest,
        response: { 200: CaseDetailsResponse },
        detail: { summary: "Change a case's description or switch its checks on or off" },
      },
    )
    .delete(
      "/:case_ref",
      ({ principal, params, set }) => {
        const user = reachableUser(users, principal, Number(params.user_id));
        cases.remove(user, params.case_ref);
        set.status = 204;
      },
      {
        access: ["partner", "user"],
        params: CaseParams,
        detail: { summary: "Stop watching a case and erase its history" },
      },
    );
}
