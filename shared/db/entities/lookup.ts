import { Entity } from 'electrodb';
import { KEY_CASING, SERVICE } from './common.ts';

/**
 * Index items for multi-valued attributes (a contact's emails, phones and tags; a company's domains and tags),
 * which a GSI cannot index. Each carries a small, bounded summary of its record (id, names, primary email or domain,
 * owner...; see `summary` of each record kind), never the record: a record with 40 indexed values would otherwise be
 * stored 41 times and every write would rewrite all copies. "Contacts tagged vip" or "who has this email" is still
 * one Query, answered with summaries. Lookups are written in the same transaction as the record (only those whose
 * value was added, or all of them when the summary changed), so they never drift from it.
 */
export const LOOKUP_KINDS = [
  'contact.email',
  'contact.phone',
  'contact.tag',
  'company.domain',
  'company.tag',
  /** A live user's role (users hold up to six): "who are the managers" is one Query. */
  'user.role',
  /** A deal's contacts (value: contactId): "deals of a contact". */
  'deal.contact',
  /** A won deal's contacts (value: contactId): a contact's purchase history. */
  'deal.purchase',
  'lead.email',
  'lead.tag',
  /** A ticket's number (value: the sequence number, e.g. `1042`): GET by number. */
  'ticket.number',
  /**
   * An email Message-ID of a ticket's message (value: the normalised id, see shared/tickets/mail-headers.ts): a
   * customer's reply threads by In-Reply-To/References with one Query per id.
   */
  'ticket.emailMessageId',
  /** An inbound mail taken (value: SES's message id; targetId `mail`): written with its message, so a redelivery adds nothing. */
  'ticket.sesMessageId',
  /** A live article's categories (value: `<status>#<category>`): an article list by category and status. */
  'article.category',
] as const;
export type LookupKind = (typeof LOOKUP_KINDS)[number];

export const LookupEntity = new Entity(
  {
    model: { entity: 'lookup', version: '1', service: SERVICE },
    attributes: {
      tenantId: { type: 'string', required: true },
      kind: { type: LOOKUP_KINDS, required: true },
      value: { type: 'string', required: true },
      targetId: { type: 'string', required: true },
      summary: { type: 'any', required: true },
    },
    indexes: {
      byValue: {
        pk: { field: 'pk', composite: ['tenantId', 'kind', 'value'], casing: KEY_CASING },
        sk: { field: 'sk', composite: ['targetId'], casing: KEY_CASING },
      },
    },
  },
  {},
);
