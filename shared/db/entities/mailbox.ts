import { Entity } from 'electrodb';
import { auditAttributes, gsiIndexes, gsiKeyAttributes, KEY_CASING, SERVICE } from './common.ts';

/**
 * A tenant's support mailbox: the address mail comes in at (lower-cased, without a `+tag`), the team and priority new
 * tickets from it get, and how each failed SES verdict is handled. gsi4: the tenant's mailboxes by address.
 */
export const MailboxEntity = new Entity(
  {
    model: { entity: 'mailbox', version: '1', service: SERVICE },
    attributes: {
      ...auditAttributes,
      mailboxId: { type: 'string', required: true, readOnly: true },
      address: { type: 'string', required: true },
      name: { type: 'string', required: true },
      teamId: { type: 'string' },
      defaultPriority: { type: 'string', required: true },
      /** { spam, spf, dkim, dmarc: 'reject' | 'flag' }; a virus is always rejected. */
      verdictPolicy: { type: 'any', required: true },
      replyName: { type: 'string' },
      ...gsiKeyAttributes(['gsi4']),
    },
    indexes: {
      byId: {
        pk: { field: 'pk', composite: ['tenantId', 'mailboxId'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
      ...gsiIndexes(['gsi4']),
    },
  },
  {},
);

/**
 * The claim of an address by one mailbox of one tenant: the table's one item whose key does not start with a tenant,
 * because the address must be unique across tenants (mail for it can feed only one) and the inbound handler finds the
 * tenant from the address alone (one GetItem). Created (must be new) in the mailbox's own transaction, deleted or moved
 * with it under a condition on its owner, so a tenant can never take or release another's address. IAM: only the
 * mailboxes group's tenant role may write these keys and only the inbound function reads them
 * (infra/constructs/tenant-access.ts, infra/constructs/mail.ts).
 */
export const MailboxClaimEntity = new Entity(
  {
    model: { entity: 'mailboxClaim', version: '1', service: SERVICE },
    attributes: {
      mailboxAddress: { type: 'string', required: true, readOnly: true },
      tenantId: { type: 'string', required: true },
      mailboxId: { type: 'string', required: true },
      claimedAt: { type: 'string', required: true },
    },
    indexes: {
      byAddress: {
        pk: { field: 'pk', composite: ['mailboxAddress'], casing: KEY_CASING },
        sk: { field: 'sk', composite: [], casing: KEY_CASING },
      },
    },
  },
  {},
);
