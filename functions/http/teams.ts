import { routes } from '../../shared/api/routes.ts';
import { findIdempotentResponse } from '../../shared/db/idempotency.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';
import * as teams from '../../shared/teams/service.ts';

export const handler = httpApi(
  routes,
  'teams',
  {
    createTeam: async ({ principal, body, idempotency }) => {
      const team = await teams.createTeam(principal, body, idempotency);
      return { status: 201, body: team, version: team.version, headers: { location: `/v1/teams/${team.id}` } };
    },
    listTeams: async ({ principal, query }) => ({ status: 200, body: await teams.listTeams(principal, query) }),
    getTeam: async ({ principal, params }) => {
      const team = await teams.getTeam(principal, params.teamId);
      return { status: 200, body: team, version: team.version };
    },
    patchTeam: async ({ principal, params, body, ifMatch }) => {
      const team = await teams.patchTeam(principal, params.teamId, body, ifMatch);
      return { status: 200, body: team, version: team.version };
    },
    deleteTeam: async ({ principal, params, ifMatch }) => {
      await teams.deleteTeam(principal, params.teamId, ifMatch);
      return { status: 204 };
    },
    addTeamMember: async ({ principal, params, body, idempotency }) => {
      const team = await teams.addMember(principal, params.teamId, body, idempotency);
      return { status: 201, body: team, version: team.version };
    },
    patchTeamMember: async ({ principal, params, body, ifMatch }) => {
      const team = await teams.patchMember(principal, params.teamId, params.userId, body, ifMatch);
      return { status: 200, body: team, version: team.version };
    },
    removeTeamMember: async ({ principal, params, ifMatch }) => {
      await teams.removeMember(principal, params.teamId, params.userId, ifMatch);
      return { status: 204 };
    },
    putMyAvailability: async ({ principal, body }) => ({
      status: 200,
      body: await teams.setMyAvailability(principal, body.availability),
    }),
  },
  { findIdempotentResponse, guards: tenantGuards },
);
