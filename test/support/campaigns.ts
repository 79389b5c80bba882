/**
 * Writes what a campaign needs directly through the entities (the templates, segments and contacts APIs belong to
 * other modules): a template, a segment or list with members, contacts with consent. Import after useFreshTable (the
 * model reads TABLE_NAME on first use).
 */
const store = () => import('../../shared/db/store.ts').then((m) => m.model);

export async function putTemplate(
  tenantId: string,
  templateId: string,
  parts: { subject?: string; html?: string; text?: string; deletedAt?: string } = {},
): Promise<void> {
  const now = new Date().toISOString();
  await (await store()).entities.emailTemplate
    .put({
      tenantId,
      templateId,
      name: `Template ${templateId}`,
      sortName: `template ${templateId}`,
      subject: parts.subject ?? 'Hello {{ contact.firstName | default: "there" }}',
      html: parts.html ?? '<p>Hi {{ contact.firstName | default: "there" }}</p>',
      text: parts.text ?? 'Hi {{ contact.firstName | default: "there" }}',
      version: 1,
      createdAt: now,
      updatedAt: now,
      ...(parts.deletedAt ? { deletedAt: parts.deletedAt } : {}),
    })
    .go();
}

export async function putSegment(
  tenantId: string,
  segmentId: string,
  kind: 'dynamic' | 'static',
  memberIds: readonly string[] = [],
  options: { deletedAt?: string } = {},
): Promise<void> {
  const model = await store();
  const now = new Date().toISOString();
  await model.entities.segment
    .put({
      tenantId,
      segmentId,
      kind,
      name: `Segment ${segmentId}`,
      memberCount: memberIds.length,
      version: 1,
      createdAt: now,
      updatedAt: now,
      ...(kind === 'dynamic' ? { filter: { all: [] }, filterVersion: 1 } : {}),
      ...(options.deletedAt ? { deletedAt: options.deletedAt } : {}),
    })
    .go();
  for (let i = 0; i < memberIds.length; i += 25) {
    await model.entities.segmentMember
      .put(
        memberIds.slice(i, i + 25).map((contactId) => ({
          tenantId,
          segmentId,
          contactId,
          addedAt: now,
          source: kind === 'static' ? 'manual' : 'filter',
        })),
      )
      .go();
  }
}

export async function putSubscriptionCategories(tenantId: string, ids: readonly string[]): Promise<void> {
  const now = new Date().toISOString();
  await (await store()).entities.subscriptionCategories
    .put({
      tenantId,
      categories: ids.map((id) => ({ id, name: id })),
      version: 1,
      createdAt: now,
      updatedAt: now,
    })
    .go();
}

export interface MarketingContactFixture {
  contactId: string;
  email?: string;
  firstName?: string;
  consent?: 'granted' | 'withdrawn' | 'pending';
  subscriptions?: Record<string, { status: 'subscribed' | 'unsubscribed' }>;
  deletedAt?: string;
}

/** Contacts as the sender reads them (the attributes eligibility and merge fields use). */
export async function putContacts(tenantId: string, contacts: readonly MarketingContactFixture[]): Promise<void> {
  const model = await store();
  const now = new Date().toISOString();
  for (const c of contacts) {
    await model.entities.contact
      .put({
        tenantId,
        contactId: c.contactId,
        firstName: c.firstName ?? c.contactId,
        sortName: c.contactId,
        ...(c.email ? { emails: [c.email] } : {}),
        ...(c.consent ? { consent: { email: c.consent } } : {}),
        ...(c.subscriptions ? { subscriptions: c.subscriptions } : {}),
        ...(c.deletedAt ? { deletedAt: c.deletedAt } : {}),
        version: 1,
        createdAt: now,
        updatedAt: now,
      } as never)
      .go();
  }
}
