import { Elysia, t } from "elysia";
import type { AuthMacro, Principal } from "../http/auth.ts";
import { notFound } from "../http/errors.ts";
import { PageQuery } from "../http/pagination.ts";
import { oneOf } from "../http/schema.ts";
import { toUser } from "./users.mapper.ts";
import type { UserRow } from "./users.queries.ts";
import {
  User,
  UserCreateRequest,
  UserIdParams,
  UserList,
  UserUpdateRequest,
} from "./users.schemas.ts";
import type { UsersService } from "./users.service.ts";

/** The user a principal may act on: a partner's own user, or a signed-in user's self. */
export function reachableUser(users: UsersService, principal: Principal, userId: number): UserRow {
  if (principal.kind === "user") {
    if (principal.user.id !== userId) throw notFound("user");
    return principal.user;
  }
  return users.requireUser(principal.client, userId);
}

export function usersRoutes(auth: AuthMacro, users: UsersService) {
  return new Elysia({ prefix: "/v1/users", tags: ["users"] })
    .use(auth)
    .get(
      "",
      ({ principal, query }) => {
        if (principal.kind === "user")
          return { users: [toUser(principal.user)], next_cursor: null };
        const result = users.list(principal.client, query);
        return { users: result.items.map(toUser), next_cursor: result.nextCursor };
      },
      {
        access: ["partner", "user"],
        query: t.Object({
          ...PageQuery,
          email: t.Optional(t.String({ maxLength: 254 })),
          status: t.Optional(oneOf(["active", "disabled"])),
        }),
        response: { 200: UserList },
        detail: { summary: "List users" },
      },
    )
    .post(
      "",
      ({ principal, body, set }) => {
        set.status = 201;
        return toUser(users.create(principal.client, body));
      },
      {
        access: ["partner"],
        body: UserCreateRequest,
        response: { 201: User },
        detail: { summary: "Create a user; sends the verification e-mail" },
      },
    )
    .get(
      "/:user_id",
      ({ principal, params }) => toUser(reachableUser(users, principal, Number(params.user_id))),
      {
        access: ["partner", "user"],
        params: UserIdParams,
        response: { 200: User },
        detail: { summary: "Get a user" },
      },
    )
    .put(
      "/:user_id",
      ({ principal, params, body }) => {
        const user = reachableUser(users, principal, Number(params.user_id));
        const updated = users.update(principal.client, user.id, body, {
          mayChangeStatus: principal.kind === "partner",
        });
        return toUser(updated);
      },
      {
        access: ["partner", "user"],
        params: UserIdParams,
        body: UserUpdateRequest,
        response: { 200: User },
        detail: { summary: "Update a user" },
      },
    )
    .delete(
      "/:user_id",
      ({ principal, params, set }) => {
        const user = reachableUser(users, principal, Number(params.user_id));
        users.remove(principal.client, user.id);
        set.status = 204;
      },
      {
        access: ["partner", "user"],
        params: UserIdParams,
        detail: { summary: "Delete a user with their cases and history" },
      },
    );
}
