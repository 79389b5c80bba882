import { routes } from '../../shared/api/routes.ts';
import { history } from '../../shared/audit/service.ts';
import { findIdempotentResponse } from '../../shared/db/idempotency.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';
import * as users from '../../shared/users/service.ts';

export const handler = httpApi(
  routes,
  'users',
  {
    inviteUser: async ({ principal, body, idempotency }) => {
      const user = await users.inviteUser(principal, body, idempotency);
      return { status: 201, body: user, version: user.version, headers: { location: `/v1/users/${user.id}` } };
    },
    listUsers: async ({ principal, query }) => ({ status: 200, body: await users.listUsers(principal, query) }),
    getUser: async ({ principal, params }) => {
      const user = await users.getUser(principal, params.userId);
      return { status: 200, body: user, version: user.version };
    },
    patchUser: async ({ principal, params, body, ifMatch }) => {
      const user = await users.patchUser(principal, params.userId, body, ifMatch);
      return { status: 200, body: user, version: user.version };
    },
    disableUser: async ({ principal, params, ifMatch }) => {
      const user = await users.disableUser(principal, params.userId, ifMatch);
      return { status: 200, body: user, version: user.version };
    },
    enableUser: async ({ principal, params, ifMatch }) => {
      const user = await users.enableUser(principal, params.userId, ifMatch);
      return { status: 200, body: user, version: user.version };
    },
    removeUser: async ({ principal, params, ifMatch }) => ({
      status: 200,
      body: await users.removeUser(principal, params.userId, ifMatch),
    }),
    listUserOpenRecords: async ({ principal, params, query }) => ({
      status: 200,
      body: await users.openRecords(principal, params.userId, query),
    }),
    userHistory: async ({ principal, params, query }) => ({
      status: 200,
      body: await history(principal, 'user', params.userId, query),
    }),
    getMe: async ({ principal }) => ({ status: 200, body: await users.me(principal) }),
  },
  { findIdempotentResponse, guards: tenantGuards },
);
