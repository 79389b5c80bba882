import { routes } from '../../shared/api/routes.ts';
import { findIdempotentResponse } from '../../shared/db/idempotency.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';
import * as sequences from '../../shared/sequences/service.ts';

export const handler = httpApi(
  routes,
  'sequences',
  {
    createSequence: async ({ principal, body, idempotency }) => {
      const s = await sequences.createSequence(principal, body, idempotency);
      return { status: 201, body: s, version: s.version, headers: { location: `/v1/sequences/${s.id}` } };
    },
    listSequences: async ({ principal, query }) => ({
      status: 200,
      body: await sequences.listSequences(principal, query),
    }),
    getSequence: async ({ principal, params }) => {
      const s = await sequences.getSequence(principal, params.sequenceId);
      return { status: 200, body: s, version: s.version };
    },
    patchSequence: async ({ principal, params, body, ifMatch }) => {
      const s = await sequences.patchSequence(principal, params.sequenceId, body, ifMatch);
      return { status: 200, body: s, version: s.version };
    },
    deleteSequence: async ({ principal, params, ifMatch }) => {
      await sequences.deleteSequence(principal, params.sequenceId, ifMatch);
      return { status: 204 };
    },
    activateSequence: async ({ principal, params, ifMatch }) => {
      const s = await sequences.setSequenceStatus(principal, params.sequenceId, 'active', ifMatch);
      return { status: 200, body: s, version: s.version };
    },
    pauseSequence: async ({ principal, params, ifMatch }) => {
      const s = await sequences.setSequenceStatus(principal, params.sequenceId, 'paused', ifMatch);
      return { status: 200, body: s, version: s.version };
    },
    enrollInSequence: async ({ principal, params, body }) => ({
      status: 200,
      body: await sequences.enroll(principal, params.sequenceId, body.contactIds),
    }),
    listSequenceEnrollments: async ({ principal, params, query }) => ({
      status: 200,
      body: await sequences.listEnrollments(principal, params.sequenceId, query),
    }),
    getSequenceEnrollment: async ({ principal, params }) => {
      const e = await sequences.getEnrollment(principal, params.sequenceId, params.contactId);
      return { status: 200, body: e, version: e.version };
    },
    exitSequenceEnrollment: async ({ principal, params, ifMatch }) => {
      await sequences.exitManually(principal, params.sequenceId, params.contactId, ifMatch);
      return { status: 204 };
    },
  },
  { findIdempotentResponse, guards: tenantGuards },
);
