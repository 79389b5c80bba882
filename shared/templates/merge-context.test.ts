import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { uniqueTenant } from '../../test/support/factories.ts';
import { useFreshTable } from '../../test/support/table.ts';
import type { MergeContext } from './fields.ts';

let store: typeof import('../db/store.ts');
let loadMergeContexts: typeof import('./render.ts').loadMergeContexts;
let renderTemplate: typeof import('./render.ts').renderTemplate;

beforeAll(async () => {
  await useFreshTable();
  store = await import('../db/store.ts');
  ({ loadMergeContexts, renderTemplate } = await import('./render.ts'));
});

const now = new Date().toISOString();
const audit = { version: 1, createdAt: now, updatedAt: now };

async function putContact(tenantId: string, contactId: string, fields: Record<string, unknown> = {}) {
  await store.model.entities.contact
    .put({ tenantId, contactId, sortName: contactId, emails: [], phones: [], tags: [], ...audit, ...fields })
    .go();
}

/** The DynamoDB commands `fn` sends, by name. */
async function commandsOf<T>(fn: () => Promise<T>): Promise<{ result: T; commands: string[] }> {
  const commands: string[] = [];
  const send = DynamoDBDocumentClient.prototype.send;
  const spy = vi.spyOn(DynamoDBDocumentClient.prototype, 'send').mockImplementation(function (
    this: DynamoDBDocumentClient,
    command: unknown,
    ...rest: unknown[]
  ) {
    commands.push((command as object).constructor.name);
    return (send as (...args: unknown[]) => unknown).call(this, command, ...rest) as never;
  });
  try {
    return { result: await fn(), commands };
  } finally {
    spy.mockRestore();
  }
}

describe('loadMergeContexts', () => {
  it('loads contacts, their companies and owners with BatchGetItem, 100 keys a call', async () => {
    const t = uniqueTenant('merge');
    await store.model.entities.company
      .put({
        tenantId: t,
        companyId: 'co-1',
        name: 'Analytical Engines',
        sortName: 'analytical engines',
        domains: ['engines.example', 'ae.example'],
        industry: 'Computing',
        address: { city: 'London' },
        customFields: { plan: 'pro' },
        ...audit,
      })
      .go();
    await store.model.entities.company
      .put({ tenantId: t, companyId: 'co-gone', name: 'Gone', sortName: 'gone', deletedAt: now, ...audit })
      .go();
    await store.model.entities.user
      .put({
        tenantId: t,
        userId: 'u-1',
        email: 'grace@crm.example',
        name: 'Grace Hopper',
        roles: ['sales'],
        timeZone: 'UTC',
        status: 'active',
        sortName: 'grace hopper',
        ...audit,
      })
      .go();
    await putContact(t, 'c-ada', {
      firstName: 'Ada',
      lastName: 'Lovelace',
      emails: ['ada@example.com', 'ada2@example.com'],
      phones: ['+442079460018'],
      jobTitle: 'Analyst',
      lifecycleStage: 'lead',
      address: { city: 'London', country: 'GB' },
      customFields: { tier: 'gold' },
      companyId: 'co-1',
      ownerId: 'u-1',
    });
    await putContact(t, 'c-orphan', { firstName: 'Orphan', companyId: 'co-gone', ownerId: 'u-missing' });
    await putContact(t, 'c-trashed', { firstName: 'Trashed', deletedAt: now });
    await putContact(t, 'c-merged', { firstName: 'Merged', mergedInto: 'c-ada' });
    const many = Array.from({ length: 230 }, (_, i) => `c-${String(i).padStart(3, '0')}`);
    for (let i = 0; i < many.length; i += 25) {
      await Promise.all(many.slice(i, i + 25).map((id) => putContact(t, id, { firstName: id, companyId: 'co-1' })));
    }

    const ids = ['c-ada', 'c-orphan', 'c-trashed', 'c-merged', 'c-unknown', 'c-ada', ...many];
    const { result: contexts, commands } = await commandsOf(() => loadMergeContexts(t, ids));
    // 235 distinct contact keys: 3 batches; then one batch of companies and one of owners. No GetItem at all.
    expect(commands).toEqual([
      'BatchGetCommand',
      'BatchGetCommand',
      'BatchGetCommand',
      'BatchGetCommand',
      'BatchGetCommand',
    ]);

    expect(contexts.size).toBe(2 + many.length);
    expect(contexts.get('c-ada')).toEqual({
      contact: {
        firstName: 'Ada',
        lastName: 'Lovelace',
        fullName: 'Ada Lovelace',
        email: 'ada@example.com',
        phone: '+442079460018',
        jobTitle: 'Analyst',
        lifecycleStage: 'lead',
        address: { city: 'London', country: 'GB' },
        custom: { tier: 'gold' },
      },
      company: {
        name: 'Analytical Engines',
        domain: 'engines.example',
        industry: 'Computing',
        address: { city: 'London' },
        custom: { plan: 'pro' },
      },
      owner: { name: 'Grace Hopper', email: 'grace@crm.example' },
    } satisfies MergeContext);
    // A trashed company and an unknown owner are left out; trashed, merged and unknown contacts are not in the map.
    expect(contexts.get('c-orphan')).toEqual({ contact: { firstName: 'Orphan', fullName: 'Orphan' } });
    for (const id of ['c-trashed', 'c-merged', 'c-unknown']) expect(contexts.has(id)).toBe(false);
    expect(contexts.get('c-229')?.company?.name).toBe('Analytical Engines');

    const rendered = await renderTemplate(
      {
        subject: 'Hi {{ contact.firstName }} at {{ company.name | default: "your company" }}',
        text: '{{ owner.name | default: "The team" }} / {{ contact.custom.tier | default: "none" }}',
      },
      contexts.get('c-orphan')!,
    );
    expect(rendered).toEqual({ subject: 'Hi Orphan at your company', text: 'The team / none' });
  });

  it('reads nothing for no contacts', async () => {
    const { result, commands } = await commandsOf(() => loadMergeContexts(uniqueTenant('merge'), []));
    expect(result.size).toBe(0);
    expect(commands).toEqual([]);
  });
});
