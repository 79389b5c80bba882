import type { Principal } from '../auth/principal.ts';
import { contactIndex } from '../db/keys.ts';
import { toViewPage } from '../records/lifecycle.ts';
import { type Page, type PageRequest, queryIndex } from '../records/lists.ts';
import type { ContactView } from './schema.ts';

/** How a stored contact is shown; light enough for other functions (companies) to list contacts. */
export const contactView = {
  entity: 'contact' as const,
  idField: 'contactId' as const,
  defaults: { emails: [], phones: [], tags: [], customFields: {} },
};

export const toContactPage = (page: Page<Record<string, unknown>>) => toViewPage<ContactView>(contactView, page);

/** A company's live contacts by name: one Query on gsi3. */
export async function contactsOfCompany(
  p: Principal,
  companyId: string,
  page: PageRequest,
): Promise<Page<ContactView>> {
  return toContactPage(await queryIndex('contact', 'gsi3', contactIndex.company(p.tenantId, companyId), page));
}
