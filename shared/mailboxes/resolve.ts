import type { CrmModel } from '../db/model.ts';
import { addressProblem, mailboxAddressOf } from './address.ts';

export type ResolvedMailbox = { tenantId: string; mailboxId: string };

/**
 * Resolves envelope recipients with a given model: the inbound handler's (its table) and the local SMTP server's
 * (DynamoDB Local's), so both read the very same claim key. Its `+tag` stripped and lower-cased, an address is one
 * GetItem on its claim; one that cannot be a mailbox is not looked up.
 */
export function mailboxResolver(m: Pick<CrmModel, 'entities'>) {
  return async (address: string): Promise<ResolvedMailbox | undefined> => {
    const mailboxAddress = mailboxAddressOf(address);
    if (addressProblem(mailboxAddress)) return undefined;
    const { data } = await m.entities.mailboxClaim.get({ mailboxAddress }).go();
    return data ? { tenantId: data.tenantId, mailboxId: data.mailboxId } : undefined;
  };
}
