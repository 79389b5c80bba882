import * as z from 'zod';
import { Audit, Id, PageQuery } from '../api/common-schemas.ts';
import { TICKET_PRIORITIES } from '../db/entities/ticket.ts';
import { addressProblem, MAX_ADDRESS_BYTES } from './address.ts';

/** The SES verdicts a mailbox decides on (a virus is always rejected). */
export const POLICY_VERDICTS = ['spam', 'spf', 'dkim', 'dmarc'] as const;
export type PolicyVerdict = (typeof POLICY_VERDICTS)[number];
export const VERDICT_ACTIONS = ['reject', 'flag'] as const;
export type VerdictAction = (typeof VERDICT_ACTIONS)[number];
export type VerdictPolicy = Record<PolicyVerdict, VerdictAction>;

/** Until a tenant says otherwise: spam and virus are dropped; failed SPF, DKIM or DMARC only flag the message. */
export const DEFAULT_VERDICT_POLICY: VerdictPolicy = { spam: 'reject', spf: 'flag', dkim: 'flag', dmarc: 'flag' };

export const MailboxAddress = z
  .string()
  .trim()
  .max(MAX_ADDRESS_BYTES * 4)
  .transform((a) => a.toLowerCase())
  .superRefine((address, ctx) => {
    const problem = addressProblem(address);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .meta({
    description:
      'Where customers write, e.g. support@acme.example: stored lower-cased; no "+" (mail to support+anything@... ' +
      'reaches this mailbox too). One address belongs to one mailbox in the whole service.',
  });

const Action = z.enum(VERDICT_ACTIONS);
const VerdictPolicyInput = z
  .strictObject(
    Object.fromEntries(POLICY_VERDICTS.map((v) => [v, Action.optional()])) as Record<
      PolicyVerdict,
      z.ZodOptional<typeof Action>
    >,
  )
  .meta({
    id: 'MailboxVerdictPolicyInput',
    description:
      'Per SES verdict, what a FAIL does: `reject` drops the message (counted and logged), `flag` lets it through ' +
      'marked. Verdicts left out keep their current (or default) action. A virus is always rejected.',
  });

const Name = z.string().trim().min(1).max(100);
const ReplyName = z.string().trim().min(1).max(100).meta({ description: 'Display name on replies sent from it.' });
const Priority = z.enum(TICKET_PRIORITIES);

export const MailboxCreate = z
  .strictObject({
    address: MailboxAddress,
    name: Name,
    teamId: Id.optional().meta({ description: 'The team new tickets from this mailbox go to (before routing rules).' }),
    defaultPriority: Priority.default('normal'),
    verdictPolicy: VerdictPolicyInput.default({}),
    replyName: ReplyName.optional(),
  })
  .meta({ id: 'MailboxCreate' });

export const MailboxPatch = z
  .strictObject({
    address: MailboxAddress,
    name: Name,
    teamId: Id.nullable().meta({ description: 'null: no team.' }),
    defaultPriority: Priority,
    verdictPolicy: VerdictPolicyInput,
    replyName: ReplyName.nullable(),
  })
  .partial()
  .meta({ id: 'MailboxPatch', description: 'Fields given replace the stored ones; null clears an optional one.' });

export const Mailbox = z
  .object({
    id: z.string(),
    address: z.string(),
    name: z.string(),
    teamId: z.string().optional(),
    defaultPriority: Priority,
    verdictPolicy: z.object(
      Object.fromEntries(POLICY_VERDICTS.map((v) => [v, Action])) as Record<PolicyVerdict, typeof Action>,
    ),
    replyName: z.string().optional(),
    ...Audit,
  })
  .meta({ id: 'Mailbox' });

export type MailboxView = z.infer<typeof Mailbox>;
export type MailboxCreateInput = z.output<typeof MailboxCreate>;
export type MailboxPatchInput = z.output<typeof MailboxPatch>;

export const MailboxIdParams = z.object({ mailboxId: Id });
export const MailboxListQuery = z.strictObject({ ...PageQuery }).meta({ id: 'MailboxListQuery' });
