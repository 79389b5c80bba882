/**
 * The one place GSI keys are built. Every key starts with the tenant id, so no query can reach another tenant's
 * items. A record is left out of an index by leaving that index's keys unset (sparse): soft-deleted records drop out
 * of every list except the trash and the sync feed (gsi5), which clients use to see deletions.
 */

/**
 * The longest folded name kept, in code points. NFKD can turn one character into many (U+FDFA into 18), and a sort
 * key `${sortName}#${id}` must stay within DynamoDB's 1024 bytes: 200 code points are at most 800 bytes of UTF-8.
 */
export const SORT_NAME_MAX_CODE_POINTS = 200;

/** Sort keys embed names; '#' is our separator, so names are folded to a safe, case-insensitive form. */
export function sortableName(...parts: Array<string | undefined>): string {
  const text = parts
    .filter(Boolean)
    .join(' ')
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}@.\-' ]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const capped = Array.from(text).slice(0, SORT_NAME_MAX_CODE_POINTS).join('').trimEnd();
  return capped || '~';
}

type Keys = Record<string, string | undefined>;

export interface ContactKeyInput {
  tenantId: string;
  contactId: string;
  sortName: string;
  updatedAt: string;
  ownerId?: string;
  lifecycleStage?: string;
  companyId?: string;
  deletedAt?: string;
}

export const contactIndex = {
  owner: (tenantId: string, ownerId: string) => `${tenantId}#contact#owner#${ownerId}`,
  stage: (tenantId: string, stage: string) => `${tenantId}#contact#stage#${stage}`,
  company: (tenantId: string, companyId: string) => `${tenantId}#contact#company#${companyId}`,
  name: (tenantId: string) => `${tenantId}#contact#name`,
  trash: (tenantId: string) => `${tenantId}#contact#trash`,
  sync: (tenantId: string) => `${tenantId}#contact#sync`,
};

export function contactKeys(c: ContactKeyInput): Keys {
  const live = !c.deletedAt;
  const byName = `${c.sortName}#${c.contactId}`;
  return {
    gsi1pk: live && c.ownerId ? contactIndex.owner(c.tenantId, c.ownerId) : undefined,
    gsi1sk: live && c.ownerId ? byName : undefined,
    gsi2pk: live && c.lifecycleStage ? contactIndex.stage(c.tenantId, c.lifecycleStage) : undefined,
    gsi2sk: live && c.lifecycleStage ? byName : undefined,
    gsi3pk: live && c.companyId ? contactIndex.company(c.tenantId, c.companyId) : undefined,
    gsi3sk: live && c.companyId ? byName : undefined,
    // The name index doubles as the trash: deleted contacts move to its trash partition, newest first by deletion.
    gsi4pk: live ? contactIndex.name(c.tenantId) : contactIndex.trash(c.tenantId),
    gsi4sk: live ? byName : `${c.deletedAt}#${c.contactId}`,
    gsi5pk: contactIndex.sync(c.tenantId),
    gsi5sk: `${c.updatedAt}#${c.contactId}`,
  };
}

export interface CompanyKeyInput {
  tenantId: string;
  companyId: string;
  sortName: string;
  updatedAt: string;
  ownerId?: string;
  deletedAt?: string;
}

export const companyIndex = {
  owner: (tenantId: string, ownerId: string) => `${tenantId}#company#owner#${ownerId}`,
  name: (tenantId: string) => `${tenantId}#company#name`,
  trash: (tenantId: string) => `${tenantId}#company#trash`,
  sync: (tenantId: string) => `${tenantId}#company#sync`,
};

export function companyKeys(c: CompanyKeyInput): Keys {
  const live = !c.deletedAt;
  const byName = `${c.sortName}#${c.companyId}`;
  return {
    gsi1pk: live && c.ownerId ? companyIndex.owner(c.tenantId, c.ownerId) : undefined,
    gsi1sk: live && c.ownerId ? byName : undefined,
    gsi4pk: live ? companyIndex.name(c.tenantId) : companyIndex.trash(c.tenantId),
    gsi4sk: live ? byName : `${c.deletedAt}#${c.companyId}`,
    gsi5pk: companyIndex.sync(c.tenantId),
    gsi5sk: `${c.updatedAt}#${c.companyId}`,
  };
}

/** Timeline of a contact or company: every timeline entity writes gsi6 with these keys. */
export const timelineIndex = {
  pk: (tenantId: string, subjectType: string, subjectId: string) => `${tenantId}#${subjectType}#${subjectId}#timeline`,
  sk: (occurredAt: string, entity: string, id: string) => `${occurredAt}#${entity}#${id}`,
};

/**
 * The partitions every kind of record uses the same way (users, teams, leads, deals, products, activities follow
 * contacts and companies): live records by owner on gsi1, by name on gsi4 (deleted ones in its trash partition),
 * every change on gsi5 for delta sync. Sort keys: `<sortName>#<id>` (name, owner), `<deletedAt>#<id>` (trash),
 * `<updatedAt>#<id>` (sync). Removing a user lists their open records from the owner partitions.
 */
export const recordIndex = {
  owner: (tenantId: string, entity: string, ownerId: string) => `${tenantId}#${entity}#owner#${ownerId}`,
  name: (tenantId: string, entity: string) => `${tenantId}#${entity}#name`,
  trash: (tenantId: string, entity: string) => `${tenantId}#${entity}#trash`,
  sync: (tenantId: string, entity: string) => `${tenantId}#${entity}#sync`,
};

/** Candidate duplicate pairs of a record kind (gsi7), by pair id: `GET /v1/duplicates?entity=`. */
export const duplicateIndex = {
  pairs: (tenantId: string, entity: 'contact' | 'company') => `${tenantId}#duplicate#${entity}`,
};
