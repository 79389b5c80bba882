import { routes } from '../../shared/api/routes.ts';
import { findIdempotentResponse } from '../../shared/db/idempotency.ts';
import { httpApi } from '../../shared/http/handler.ts';
import { tenantGuards } from '../../shared/http/tenant-guards.ts';
import * as notes from '../../shared/notes/service.ts';

export const handler = httpApi(
  routes,
  'notes',
  {
    createContactNote: async ({ principal, params, body, idempotency }) => {
      const note = await notes.createNote(principal, 'contact', params.contactId, body, idempotency);
      return { status: 201, body: note, version: note.version, headers: { location: `/v1/notes/${note.id}` } };
    },
    listContactNotes: async ({ principal, params, query }) => ({
      status: 200,
      body: await notes.listNotes(principal, 'contact', params.contactId, query),
    }),
    createCompanyNote: async ({ principal, params, body, idempotency }) => {
      const note = await notes.createNote(principal, 'company', params.companyId, body, idempotency);
      return { status: 201, body: note, version: note.version, headers: { location: `/v1/notes/${note.id}` } };
    },
    listCompanyNotes: async ({ principal, params, query }) => ({
      status: 200,
      body: await notes.listNotes(principal, 'company', params.companyId, query),
    }),
    getNote: async ({ principal, params }) => {
      const note = await notes.getNote(principal, params.noteId);
      return { status: 200, body: note, version: note.version };
    },
    patchNote: async ({ principal, params, body, ifMatch }) => {
      const note = await notes.patchNote(principal, params.noteId, body, ifMatch);
      return { status: 200, body: note, version: note.version };
    },
    deleteNote: async ({ principal, params, ifMatch }) => {
      await notes.deleteNote(principal, params.noteId, ifMatch);
      return { status: 204 };
    },
  },
  { findIdempotentResponse, guards: tenantGuards },
);
