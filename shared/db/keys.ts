import { encodeGeohash } from '../geo/geohash.ts';

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

/**
 * The geohash index (gsi7): a record with a location sits in the partition of its geohash cell at
 * GEO_PARTITION_PRECISION (3 characters, about 156 x 156 km at the equator, narrower towards the poles), sorted by
 * its full geohash, so a near-search queries each covering cell as a partition or a sort-key prefix of one.
 */
export const GEO_PARTITION_PRECISION = 3;
/** About 5 x 5 m: finer than any cover cell. */
export const GEO_HASH_PRECISION = 9;

export const geoIndex = {
  cell: (tenantId: string, entity: string, cell: string) => `${tenantId}#${entity}#geo#${cell}`,
};

/** gsi7 keys of a live record with a location; none otherwise. */
export function geoKeys(
  tenantId: string,
  entity: string,
  id: string,
  location: { lat: number; lon: number } | undefined,
  live: boolean,
): Keys {
  if (!live || !location) return { gsi7pk: undefined, gsi7sk: undefined };
  const hash = encodeGeohash(location, GEO_HASH_PRECISION);
  return { gsi7pk: geoIndex.cell(tenantId, entity, hash.slice(0, GEO_PARTITION_PRECISION)), gsi7sk: `${hash}#${id}` };
}

export interface ContactKeyInput {
  tenantId: string;
  contactId: string;
  sortName: string;
  updatedAt: string;
  ownerId?: string;
  lifecycleStage?: string;
  companyId?: string;
  location?: { lat: number; lon: number };
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
    ...geoKeys(c.tenantId, 'contact', c.contactId, c.location, live),
  };
}

export interface CompanyKeyInput {
  tenantId: string;
  companyId: string;
  sortName: string;
  updatedAt: string;
  ownerId?: string;
  location?: { lat: number; lon: number };
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
    ...geoKeys(c.tenantId, 'company', c.companyId, c.location, live),
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

/** Users: by name and trash (gsi4) and delta sync (gsi5) through recordIndex; live users by status on gsi2. */
export const userIndex = {
  status: (tenantId: string, status: string) => `${tenantId}#user#status#${status}`,
};

export interface UserKeyInput {
  tenantId: string;
  userId: string;
  sortName: string;
  updatedAt: string;
  status: string;
  deletedAt?: string;
}

export function userKeys(u: UserKeyInput): Keys {
  const live = !u.deletedAt;
  const byName = `${u.sortName}#${u.userId}`;
  return {
    gsi2pk: live ? userIndex.status(u.tenantId, u.status) : undefined,
    gsi2sk: live ? byName : undefined,
    gsi4pk: live ? recordIndex.name(u.tenantId, 'user') : recordIndex.trash(u.tenantId, 'user'),
    gsi4sk: live ? byName : `${u.deletedAt}#${u.userId}`,
    gsi5pk: recordIndex.sync(u.tenantId, 'user'),
    gsi5sk: `${u.updatedAt}#${u.userId}`,
  };
}

export interface TeamKeyInput {
  tenantId: string;
  teamId: string;
  sortName: string;
  updatedAt: string;
  deletedAt?: string;
}

/** Teams: by name and trash (gsi4) and delta sync (gsi5), through recordIndex. */
export function teamKeys(t: TeamKeyInput): Keys {
  const live = !t.deletedAt;
  return {
    gsi4pk: live ? recordIndex.name(t.tenantId, 'team') : recordIndex.trash(t.tenantId, 'team'),
    gsi4sk: live ? `${t.sortName}#${t.teamId}` : `${t.deletedAt}#${t.teamId}`,
    gsi5pk: recordIndex.sync(t.tenantId, 'team'),
    gsi5sk: `${t.updatedAt}#${t.teamId}`,
  };
}

/**
 * Products: by name and trash on gsi4 (the shared name partitions), active ones by name on gsi2 (sparse: an inactive
 * or deleted product has no gsi2 keys). SKUs are unique through `productSku` claim items, not an index.
 */
export const productIndex = {
  name: (tenantId: string) => recordIndex.name(tenantId, 'product'),
  trash: (tenantId: string) => recordIndex.trash(tenantId, 'product'),
  active: (tenantId: string) => `${tenantId}#product#active`,
};

export function productKeys(p: {
  tenantId: string;
  productId: string;
  sortName: string;
  active: boolean;
  deletedAt?: string;
}): Keys {
  const live = !p.deletedAt;
  const byName = `${p.sortName}#${p.productId}`;
  return {
    gsi2pk: live && p.active ? productIndex.active(p.tenantId) : undefined,
    gsi2sk: live && p.active ? byName : undefined,
    gsi4pk: live ? productIndex.name(p.tenantId) : productIndex.trash(p.tenantId),
    gsi4sk: live ? byName : `${p.deletedAt}#${p.productId}`,
  };
}

export const pipelineIndex = {
  name: (tenantId: string) => recordIndex.name(tenantId, 'pipeline'),
};

export function pipelineKeys(p: { tenantId: string; pipelineId: string; sortName: string }): Keys {
  return { gsi4pk: pipelineIndex.name(p.tenantId), gsi4sk: `${p.sortName}#${p.pipelineId}` };
}

/** Deals without an expected close date sort after every dated one on the board. */
export const UNDATED_CLOSE = '9999-12-31';

/**
 * Deals: by owner on gsi1 (recordIndex.owner), one board partition per pipeline stage on gsi2 sorted by expected
 * close date (soonest first, undated last), by company on gsi3 and name/trash on gsi4 (by name), sync on gsi5, and
 * won deals by company on gsi7 (a company's purchase history, newest close first when read descending). Deals by
 * contact are `deal.contact` lookup items (a deal has several contacts).
 */
export const dealIndex = {
  owner: (tenantId: string, ownerId: string) => recordIndex.owner(tenantId, 'deal', ownerId),
  stage: (tenantId: string, pipelineId: string, stageId: string) => `${tenantId}#deal#stage#${pipelineId}#${stageId}`,
  company: (tenantId: string, companyId: string) => `${tenantId}#deal#company#${companyId}`,
  name: (tenantId: string) => recordIndex.name(tenantId, 'deal'),
  trash: (tenantId: string) => recordIndex.trash(tenantId, 'deal'),
  sync: (tenantId: string) => recordIndex.sync(tenantId, 'deal'),
  purchasesOfCompany: (tenantId: string, companyId: string) => `${tenantId}#deal#purchases#company#${companyId}`,
};

export interface DealKeyInput {
  tenantId: string;
  dealId: string;
  sortName: string;
  updatedAt: string;
  ownerId: string;
  pipelineId: string;
  stageId: string;
  status: 'open' | 'won' | 'lost';
  expectedCloseDate?: string;
  closedAt?: string;
  companyId?: string;
  deletedAt?: string;
}

export function dealKeys(d: DealKeyInput): Keys {
  const live = !d.deletedAt;
  const byName = `${d.sortName}#${d.dealId}`;
  const purchase = live && d.status === 'won' && d.companyId;
  return {
    gsi1pk: live ? dealIndex.owner(d.tenantId, d.ownerId) : undefined,
    gsi1sk: live ? byName : undefined,
    gsi2pk: live ? dealIndex.stage(d.tenantId, d.pipelineId, d.stageId) : undefined,
    gsi2sk: live ? `${d.expectedCloseDate ?? UNDATED_CLOSE}#${d.dealId}` : undefined,
    gsi3pk: live && d.companyId ? dealIndex.company(d.tenantId, d.companyId) : undefined,
    gsi3sk: live && d.companyId ? byName : undefined,
    gsi4pk: live ? dealIndex.name(d.tenantId) : dealIndex.trash(d.tenantId),
    gsi4sk: live ? byName : `${d.deletedAt}#${d.dealId}`,
    gsi5pk: dealIndex.sync(d.tenantId),
    gsi5sk: `${d.updatedAt}#${d.dealId}`,
    gsi7pk: purchase ? dealIndex.purchasesOfCompany(d.tenantId, d.companyId!) : undefined,
    gsi7sk: purchase ? `${d.closedAt}#${d.dealId}` : undefined,
  };
}
export interface LeadKeyInput {
  tenantId: string;
  leadId: string;
  sortName: string;
  updatedAt: string;
  status: string;
  source: string;
  ownerId?: string;
  deletedAt?: string;
}

/** Leads: by owner (gsi1, the shared owner partition), status (gsi2), source (gsi3), name/trash (gsi4), sync (gsi5). */
export const leadIndex = {
  owner: (tenantId: string, ownerId: string) => recordIndex.owner(tenantId, 'lead', ownerId),
  status: (tenantId: string, status: string) => `${tenantId}#lead#status#${status}`,
  source: (tenantId: string, source: string) => `${tenantId}#lead#source#${source}`,
  name: (tenantId: string) => recordIndex.name(tenantId, 'lead'),
  trash: (tenantId: string) => recordIndex.trash(tenantId, 'lead'),
  sync: (tenantId: string) => recordIndex.sync(tenantId, 'lead'),
};

export function leadKeys(l: LeadKeyInput): Keys {
  const live = !l.deletedAt;
  const byName = `${l.sortName}#${l.leadId}`;
  return {
    gsi1pk: live && l.ownerId ? leadIndex.owner(l.tenantId, l.ownerId) : undefined,
    gsi1sk: live && l.ownerId ? byName : undefined,
    gsi2pk: live ? leadIndex.status(l.tenantId, l.status) : undefined,
    gsi2sk: live ? byName : undefined,
    gsi3pk: live ? leadIndex.source(l.tenantId, l.source) : undefined,
    gsi3sk: live ? byName : undefined,
    gsi4pk: live ? leadIndex.name(l.tenantId) : leadIndex.trash(l.tenantId),
    gsi4sk: live ? byName : `${l.deletedAt}#${l.leadId}`,
    gsi5pk: leadIndex.sync(l.tenantId),
    gsi5sk: `${l.updatedAt}#${l.leadId}`,
  };
}

/** Forms by name (gsi4) and their trash. */
export const formIndex = {
  name: (tenantId: string) => recordIndex.name(tenantId, 'form'),
  trash: (tenantId: string) => recordIndex.trash(tenantId, 'form'),
};
/**
 * Activities (calls, meetings, logged emails, tasks). The owner partition (gsi1, `recordIndex.owner`) holds only what
 * is still open (open tasks, scheduled meetings), since removing a user lists those. The agenda (gsi2) holds the
 * same open items under the user who must act (a task's assignee, a meeting's owner), sorted by due/start time, so
 * overdue items come first; the calendar (gsi3) every meeting and task with a time, whatever its status (the
 * iCalendar feed shows completed and cancelled ones too).
 */
export const activityIndex = {
  owner: (tenantId: string, ownerId: string) => recordIndex.owner(tenantId, 'activity', ownerId),
  agenda: (tenantId: string, userId: string) => `${tenantId}#activity#agenda#${userId}`,
  calendar: (tenantId: string, userId: string) => `${tenantId}#activity#calendar#${userId}`,
  type: (tenantId: string, type: string) => `${tenantId}#activity#type#${type}`,
  sync: (tenantId: string) => recordIndex.sync(tenantId, 'activity'),
};

export interface ActivityKeyInput {
  tenantId: string;
  activityId: string;
  type: string;
  ownerId: string;
  occurredAt: string;
  updatedAt: string;
  status?: string;
  dueAt?: string;
  startAt?: string;
  assigneeId?: string;
  deletedAt?: string;
}

/** Tasks without a due time sort after every dated item ('~' follows the digits of a timestamp). */
const UNDATED = '~';

export function activityKeys(a: ActivityKeyInput): Keys {
  const live = !a.deletedAt;
  const open =
    live && ((a.type === 'task' && a.status === 'open') || (a.type === 'meeting' && a.status === 'scheduled'));
  const when = a.type === 'task' ? a.dueAt : a.type === 'meeting' ? a.startAt : undefined;
  const byTime = `${when ?? UNDATED}#${a.activityId}`;
  // Tasks are the assignee's to do; meetings are on their owner's agenda.
  const agendaUser = a.type === 'task' ? (a.assigneeId ?? a.ownerId) : a.ownerId;
  const onCalendar = live && when !== undefined && (a.type === 'task' || a.type === 'meeting');
  return {
    gsi1pk: open ? activityIndex.owner(a.tenantId, a.ownerId) : undefined,
    gsi1sk: open ? byTime : undefined,
    gsi2pk: open ? activityIndex.agenda(a.tenantId, agendaUser) : undefined,
    gsi2sk: open ? byTime : undefined,
    gsi3pk: onCalendar ? activityIndex.calendar(a.tenantId, agendaUser) : undefined,
    gsi3sk: onCalendar ? byTime : undefined,
    gsi4pk: live ? activityIndex.type(a.tenantId, a.type) : undefined,
    gsi4sk: live ? `${a.occurredAt}#${a.activityId}` : undefined,
    gsi5pk: activityIndex.sync(a.tenantId),
    gsi5sk: `${a.updatedAt}#${a.activityId}`,
  };
}
/** Candidate duplicate pairs of a record kind (gsi7), by pair id: `GET /v1/duplicates?entity=`. */
export const duplicateIndex = {
  pairs: (tenantId: string, entity: 'contact' | 'company') => `${tenantId}#duplicate#${entity}`,
};

/** Business calendars (SLA): by name on gsi4. */
export const businessCalendarIndex = {
  name: (tenantId: string) => recordIndex.name(tenantId, 'businessCalendar'),
};

export function businessCalendarKeys(c: { tenantId: string; calendarId: string; sortName: string }): Keys {
  return { gsi4pk: businessCalendarIndex.name(c.tenantId), gsi4sk: `${c.sortName}#${c.calendarId}` };
}

/** SLA policies: by name on gsi4, and the policies counting on a calendar on gsi2 (a calendar in use stays). */
export const slaPolicyIndex = {
  name: (tenantId: string) => recordIndex.name(tenantId, 'slaPolicy'),
  calendar: (tenantId: string, calendarId: string) => `${tenantId}#slaPolicy#calendar#${calendarId}`,
};

export function slaPolicyKeys(p: { tenantId: string; policyId: string; sortName: string; calendarId: string }): Keys {
  const byName = `${p.sortName}#${p.policyId}`;
  return {
    gsi2pk: slaPolicyIndex.calendar(p.tenantId, p.calendarId),
    gsi2sk: byName,
    gsi4pk: slaPolicyIndex.name(p.tenantId),
    gsi4sk: byName,
  };
}

/** SLA outcomes (achieved / breached targets) by the month they were decided, on gsi3. */
export const slaOutcomeIndex = {
  month: (tenantId: string, month: string) => `${tenantId}#slaOutcome#${month}`,
};

export function slaOutcomeKeys(o: { tenantId: string; ticketId: string; target: string; decidedAt: string }): Keys {
  return {
    gsi3pk: slaOutcomeIndex.month(o.tenantId, o.decidedAt.slice(0, 7)),
    gsi3sk: `${o.decidedAt}#${o.ticketId}#${o.target}`,
  };
}

/** Ticket statuses that still need work: the queues (assignee, team, priority) hold only these. */
export const UNRESOLVED_TICKET_STATUSES: readonly string[] = ['new', 'open', 'pending', 'on_hold'];

/**
 * Tickets. Every view is sorted by `<updatedAt>#<id>` and read newest-updated first. Queues hold only unresolved
 * tickets (new, open, pending, on hold): the assignee's on gsi1 (`recordIndex.owner`, so a removed user's open
 * records include them), a team's on gsi3, a priority's on gsi7. Every live ticket is in its status partition (gsi2)
 * and in the recent partition of gsi4 (deleted ones in its trash); every change on gsi5 (sync).
 */
export const ticketIndex = {
  assignee: (tenantId: string, userId: string) => recordIndex.owner(tenantId, 'ticket', userId),
  status: (tenantId: string, status: string) => `${tenantId}#ticket#status#${status}`,
  team: (tenantId: string, teamId: string) => `${tenantId}#ticket#team#${teamId}`,
  priority: (tenantId: string, priority: string) => `${tenantId}#ticket#priority#${priority}`,
  recent: (tenantId: string) => `${tenantId}#ticket#recent`,
  trash: (tenantId: string) => recordIndex.trash(tenantId, 'ticket'),
  sync: (tenantId: string) => recordIndex.sync(tenantId, 'ticket'),
};

export interface TicketKeyInput {
  tenantId: string;
  ticketId: string;
  status: string;
  priority: string;
  updatedAt: string;
  assigneeId?: string;
  teamId?: string;
  deletedAt?: string;
}

export function ticketKeys(t: TicketKeyInput): Keys {
  const live = !t.deletedAt;
  const queued = live && UNRESOLVED_TICKET_STATUSES.includes(t.status);
  const byUpdate = `${t.updatedAt}#${t.ticketId}`;
  return {
    gsi1pk: queued && t.assigneeId ? ticketIndex.assignee(t.tenantId, t.assigneeId) : undefined,
    gsi1sk: queued && t.assigneeId ? byUpdate : undefined,
    gsi2pk: live ? ticketIndex.status(t.tenantId, t.status) : undefined,
    gsi2sk: live ? byUpdate : undefined,
    gsi3pk: queued && t.teamId ? ticketIndex.team(t.tenantId, t.teamId) : undefined,
    gsi3sk: queued && t.teamId ? byUpdate : undefined,
    gsi4pk: live ? ticketIndex.recent(t.tenantId) : ticketIndex.trash(t.tenantId),
    gsi4sk: live ? byUpdate : `${t.deletedAt}#${t.ticketId}`,
    gsi5pk: ticketIndex.sync(t.tenantId),
    gsi5sk: byUpdate,
    gsi7pk: queued ? ticketIndex.priority(t.tenantId, t.priority) : undefined,
    gsi7sk: queued ? byUpdate : undefined,
  };
}

/**
 * Knowledge-base articles: live ones by status (gsi2) and by status and locale (gsi3), sorted by title; name and
 * trash on gsi4. Their search tokens (kbToken items) have partitions of their own, also per status and locale.
 */
export const articleIndex = {
  status: (tenantId: string, status: string) => `${tenantId}#kb#article#${status}`,
  locale: (tenantId: string, status: string, locale: string) => `${tenantId}#kb#article#${status}#locale#${locale}`,
  name: (tenantId: string) => recordIndex.name(tenantId, 'article'),
  trash: (tenantId: string) => recordIndex.trash(tenantId, 'article'),
  /** A token's articles, heaviest first (gsi2). */
  token: (tenantId: string, status: string, locale: string, token: string) =>
    `${tenantId}#kb#${status}#token#${locale}#${token}`,
  /** Words starting with the same two characters, sorted by word (gsi3): a begins_with Query finds a prefix. */
  prefix: (tenantId: string, status: string, locale: string, word: string) =>
    `${tenantId}#kb#${status}#prefix#${locale}#${Array.from(word).slice(0, 2).join('')}`,
};

export function articleKeys(a: {
  tenantId: string;
  articleId: string;
  sortName: string;
  status: string;
  locale: string;
  deletedAt?: string;
}): Keys {
  const live = !a.deletedAt;
  const byTitle = `${a.sortName}#${a.articleId}`;
  return {
    gsi2pk: live ? articleIndex.status(a.tenantId, a.status) : undefined,
    gsi2sk: live ? byTitle : undefined,
    gsi3pk: live ? articleIndex.locale(a.tenantId, a.status, a.locale) : undefined,
    gsi3sk: live ? byTitle : undefined,
    gsi4pk: live ? articleIndex.name(a.tenantId) : articleIndex.trash(a.tenantId),
    gsi4sk: live ? byTitle : `${a.deletedAt}#${a.articleId}`,
  };
}

/** The sort key width of a weight: heavier first in an ascending Query (999 - weight, zero-padded). */
export const kbWeightSortKey = (weight: number, articleId: string) =>
  `${String(999 - Math.min(999, Math.max(0, weight))).padStart(3, '0')}#${articleId}`;

export function kbTokenKeys(t: {
  tenantId: string;
  articleId: string;
  status: string;
  locale: string;
  token: string;
  surface: string;
  weight: number;
}): Keys {
  return {
    gsi2pk: articleIndex.token(t.tenantId, t.status, t.locale, t.token),
    gsi2sk: kbWeightSortKey(t.weight, t.articleId),
    gsi3pk: articleIndex.prefix(t.tenantId, t.status, t.locale, t.surface),
    gsi3sk: `${t.surface}#${t.articleId}`,
  };
}

/** Support mailboxes: by address on gsi4 (the address claim itself is a table item with a global key). */
export const mailboxIndex = {
  address: (tenantId: string) => recordIndex.name(tenantId, 'mailbox'),
};

export function mailboxKeys(m: { tenantId: string; mailboxId: string; address: string }): Keys {
  return { gsi4pk: mailboxIndex.address(m.tenantId), gsi4sk: `${m.address}#${m.mailboxId}` };
}

/** A tenant's suppression list, newest first (SuppressionEntity, shared/suppression/store.ts). */
export const suppressionIndex = {
  list: (t: string) => `${t}#suppression#list`,
  sk: (suppressedAt: string, email: string) => `${suppressedAt}#${email}`,
};

/** Campaigns: by status on gsi2 (`<t>#campaign#status#<status>`), by name and trash on gsi4 (recordIndex). */
export const campaignIndex = {
  status: (t: string, status: string) => `${t}#campaign#status#${status}`,
  name: (t: string) => recordIndex.name(t, 'campaign'),
  trash: (t: string) => recordIndex.trash(t, 'campaign'),
};

export function campaignKeys(c: {
  tenantId: string;
  campaignId: string;
  status: string;
  sortName: string;
  deletedAt?: string | undefined;
}): Keys {
  const live = !c.deletedAt;
  const byName = `${c.sortName}#${c.campaignId}`;
  return {
    gsi2pk: live ? campaignIndex.status(c.tenantId, c.status) : undefined,
    gsi2sk: live ? byName : undefined,
    gsi4pk: live ? campaignIndex.name(c.tenantId) : campaignIndex.trash(c.tenantId),
    gsi4sk: live ? byName : `${c.deletedAt}#${c.campaignId}`,
  };
}

/** Segments and static lists: by name on gsi4, deleted ones in its trash partition (members: the segment's partition). */
export const segmentIndex = {
  name: (tenantId: string) => recordIndex.name(tenantId, 'segment'),
  trash: (tenantId: string) => recordIndex.trash(tenantId, 'segment'),
};

export function segmentKeys(s: { tenantId: string; segmentId: string; sortName: string; deletedAt?: string }): Keys {
  const live = !s.deletedAt;
  return {
    gsi4pk: live ? segmentIndex.name(s.tenantId) : segmentIndex.trash(s.tenantId),
    gsi4sk: live ? `${s.sortName}#${s.segmentId}` : `${s.deletedAt}#${s.segmentId}`,
  };
}
/**
 * Drip sequences: by name and trash on gsi4; active sequences enrolling a form's leads on gsi2 (sparse). Enrolments
 * of a sequence on gsi1, sorted by contact id (a contact's own enrolments are its partition of the table).
 */
export const sequenceIndex = {
  name: (tenantId: string) => recordIndex.name(tenantId, 'sequence'),
  trash: (tenantId: string) => recordIndex.trash(tenantId, 'sequence'),
  form: (tenantId: string, formId: string) => `${tenantId}#sequence#form#${formId}`,
  /** Active sequences enrolling a segment's members as they join (sparse, like `form`). */
  segment: (tenantId: string, segmentId: string) => `${tenantId}#sequence#segment#${segmentId}`,
  enrollments: (tenantId: string, sequenceId: string) => `${tenantId}#sequence#${sequenceId}#enrollments`,
};
