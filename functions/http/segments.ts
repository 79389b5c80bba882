import { routes } from '../../shared/api/routes.ts';
import { findIdempotentResponse } from '../../shared/db/idempotency.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';
import * as segments from '../../shared/segments/service.ts';

export const handler = httpApi(
  routes,
  'segments',
  {
    createSegment: async ({ principal, body, idempotency }) => {
      const segment = await segments.createSegment(principal, body, idempotency);
      return {
        status: 201,
        body: segment,
        version: segment.version,
        headers: { location: `/v1/segments/${segment.id}` },
      };
    },
    listSegments: async ({ principal, query }) => ({
      status: 200,
      body: await segments.listSegments(principal, query),
    }),
    getSegment: async ({ principal, params }) => {
      const segment = await segments.getSegment(principal, params.segmentId);
      return { status: 200, body: segment, version: segment.version };
    },
    patchSegment: async ({ principal, params, body, ifMatch }) => {
      const segment = await segments.patchSegment(principal, params.segmentId, body, ifMatch);
      return { status: 200, body: segment, version: segment.version };
    },
    deleteSegment: async ({ principal, params, ifMatch }) => {
      await segments.deleteSegment(principal, params.segmentId, ifMatch);
      return { status: 204 };
    },
    restoreSegment: async ({ principal, params, ifMatch }) => {
      const segment = await segments.restoreSegment(principal, params.segmentId, ifMatch);
      return { status: 200, body: segment, version: segment.version };
    },
    listSegmentMembers: async ({ principal, params, query }) => ({
      status: 200,
      body: await segments.listMembers(principal, params.segmentId, query),
    }),
    addSegmentMembers: async ({ principal, params, body }) => ({
      status: 200,
      body: await segments.changeListMembers(principal, params.segmentId, body.contactIds, 'add'),
    }),
    removeSegmentMembers: async ({ principal, params, body }) => ({
      status: 200,
      body: await segments.changeListMembers(principal, params.segmentId, body.contactIds, 'remove'),
    }),
  },
  { findIdempotentResponse, guards: tenantGuards },
);
