import { Elysia, t } from "elysia";
import { CaseCreateRequest } from "../cases/cases.schemas.ts";
import type { AuthMacro } from "../http/auth.ts";
import { PageQuery } from "../http/pagination.ts";
import { oneOf } from "../http/schema.ts";
import { Accepted, User, UserIdParams, UserList } from "../users/users.schemas.ts";
import {
  Client,
  ClientCaseParams,
  ClientLogoUpdateRequest,
  ClientUserCreateRequest,
  ClientUserUpdateRequest,
  PartnerCaseDetailsResponse,
  PartnerCaseList,
  PartnerCaseQuery,
} from "./client.schemas.ts";
import type { ClientService } from "./client.service.ts";

/** Back-office mode: everything here is for the partner's own server, never a browser key. */
export function clientRoutes(auth: AuthMacro, client: ClientService) {
  return new Elysia({ prefix: "/v1/client", tags: ["client"] })
    .use(auth)
    .get("", ({ principal }) => client.describe(principal.client), {
      access: ["partner"],
      response: { 200: Client },
      detail: { summary: "The partner's account with its usage" },
    })
    .put("/logo", ({ principal, body }) => client.updateLogo(principal.client, body.logo_url), {
      access: ["partner"],
      body: ClientLogoUpdateRequest,
      response: { 200: Client },
      detail: { summary: "Set or clear the logo shown in e-mails and verification pages" },
    })
    .get("/users", ({ principal, query }) => client.listUsers(principal.client, query), {
      access: ["partner"],
      query: t.Object({
        ...PageQuery,
        email: t.Optional(t.String({ maxLength: 254 })),
        status: t.Optional(oneOf(["active", "disabled"])),
      }),
      response: { 200: UserList },
      detail: { summary: "List the partner's users" },
    })
    .post(
      "/users",
      ({ principal, body, set }) => {
        set.status = 201;
        return client.createUser(principal.client, body);
      },
      {
        access: ["partner"],
        body: ClientUserCreateRequest,
        response: { 201: User },
        detail: { summary: "Create a user, optionally as already verified" },
      },
    )
    .get(
      "/users/:user_id",
      ({ principal, params }) => client.getUser(principal.client, Number(params.user_id)),
      {
        access: ["partner"],
        params: UserIdParams,
        response: { 200: User },
        detail: { summary: "Get a user" },
      },
    )
    .put(
      "/users/:user_id",
      ({ principal, params, body }) =>
        client.updateUser(principal.client, Number(params.user_id), body),
      {
        access: ["partner"],
        params: UserIdParams,
        body: ClientUserUpdateRequest,
        response: { 200: User },
        detail: { summary: "Update a user, their status or whether their e-mail is verified" },
      },
    )
    .delete(
      "/users/:user_id",
      ({ principal, params, set }) => {
        client.removeUser(principal.client, Number(params.user_id));
        set.status = 204;
      },
      {
        access: ["partner"],
        params: UserIdParams,
        detail: { summary: "Delete a user with their cases and history" },
      },
    )
    .post(
      "/users/:user_id/resend-verification",
      ({ principal, params, set }) => {
        set.status = 202;
        return client.resendVerification(principal.client, Number(params.user_id));
      },
      {
        access: ["partner"],
        params: UserIdParams,
        response: { 202: Accepted },
        detail: { summary: "Send the verification e-mail again, unless already verified" },
      },
    )
    .post(
      "/users/:user_id/cases",
      ({ principal, params, body, set }) => {
        set.status = 201;
        return client.createCase(principal.client, Number(params.user_id), body);
      },
      {
        access: ["partner"],
        params: UserIdParams,
        body: CaseCreateRequest,
        response: { 201: PartnerCaseDetailsResponse },
        detail: { summary: "Watch a receipt for a user" },
      },
    )
    .get("/cases", ({ principal, query }) => client.listCases(principal.client, query), {
      access: ["partner"],
      query: PartnerCaseQuery,
      response: { 200: PartnerCaseList },
      detail: { summary: "Every case of the partner's users, newest first, with filters" },
    })
    .get(
      "/cases/:case_ref",
      ({ principal, params }) => client.getCase(principal.client, params.case_ref),
      {
        access: ["partner"],
        params: ClientCaseParams,
        response: { 200: PartnerCaseDetailsResponse },
        detail: { summary: "A case of any of the partner's users, by id or FLOW id" },
      },
    );
}
