import { isDeepStrictEqual } from 'node:util';
import { ulid } from 'ulid';
import { can } from '../auth/permissions.ts';
import type { Principal } from '../auth/principal.ts';
import { restoredVersion, type StoredAudit, trashedVersion } from '../db/documents.ts';
import { itemView } from '../db/item-view.ts';
import { articleIndex, articleKeys, kbTokenKeys, sortableName } from '../db/keys.ts';
import { type ItemWrite, type LookupEntry, model, versionCondition, writeRecord } from '../db/store.ts';
import { DomainError, ForbiddenError, NotFoundError, PreconditionFailedError } from '../errors.ts';
import type { ApiRequest, VersionPrecondition } from '../http/request.ts';
import { type Page, queryIndex, queryLookup, singleFilter } from '../records/lists.ts';
import type {
  ArticleCreateInput,
  ArticleListFilters,
  ArticlePatchInput,
  ArticleSearchInput,
  ArticleSummaryView,
  ArticleView,
  SearchHitView,
} from './schema.ts';
import { type IndexTerm, indexTerms, type QueryWord, queryWords, ticketWords } from './text.ts';

type Status = 'draft' | 'published';

export interface StoredArticle extends StoredAudit {
  tenantId: string;
  articleId: string;
  title: string;
  sortName: string;
  body: string;
  status: Status;
  locale: string;
  categories: string[];
  tags: string[];
  authorId?: string;
  publishedAt?: string;
  searchTerms: IndexTerm[];
}

const asRecord = (a: StoredArticle) => a as unknown as Record<string, unknown>;

/** The article as the API shows it (itemView leaves out keys and the searchTerms bookkeeping). */
export const articleView = (stored: Record<string, unknown>): ArticleView =>
  itemView(stored, 'articleId') as ArticleView;

const articleSummary = (a: StoredArticle): ArticleSummaryView => ({
  id: a.articleId,
  title: a.title,
  status: a.status,
  locale: a.locale,
  categories: a.categories,
  updatedAt: a.updatedAt,
});

const isEditor = (principal: Principal) => can(principal.roles, 'kb:write');

function requireEditor(principal: Principal, what: string) {
  if (!isEditor(principal)) throw new ForbiddenError(`${what} need kb:write.`);
}

export async function readArticle(tenantId: string, articleId: string): Promise<StoredArticle | undefined> {
  const { data } = await model.entities.article.get({ tenantId, articleId }).go();
  return (data as StoredArticle | null) ?? undefined;
}

/** A live article the caller may see: drafts only for editors (others get 404, as if it did not exist). */
async function readVisible(principal: Principal, articleId: string): Promise<StoredArticle> {
  const stored = await readArticle(principal.tenantId, articleId);
  if (!stored || stored.deletedAt || (stored.status === 'draft' && !isEditor(principal))) {
    throw new NotFoundError('article', articleId);
  }
  return stored;
}

/**
 * The token items a write must change, and only those: a live article's terms are put when new, re-weighted or when
 * the article moved to another status or locale (their keys carry both); tokens it lost are deleted; a deleted
 * article has none. At most 2 x MAX_TOKENS_PER_ARTICLE items, which with the article, its category lookups and the
 * idempotency record stays within DynamoDB's 100 items per transaction.
 */
export function tokenWrites(next: StoredArticle, previous: StoredArticle | undefined): ItemWrite[] {
  const before = previous && !previous.deletedAt ? previous.searchTerms : [];
  const after = next.deletedAt ? [] : next.searchTerms;
  const moved = previous !== undefined && (previous.status !== next.status || previous.locale !== next.locale);
  const beforeByToken = new Map(before.map((term) => [term.token, term]));
  const afterTokens = new Set(after.map((term) => term.token));
  const writes: ItemWrite[] = [];
  const { tenantId, articleId, status, locale } = next;
  for (const term of after) {
    if (!moved && isDeepStrictEqual(beforeByToken.get(term.token), term)) continue;
    writes.push({
      put: 'kbToken',
      item: { tenantId, articleId, ...term, ...kbTokenKeys({ tenantId, articleId, status, locale, ...term }) },
    });
  }
  for (const term of before) {
    if (!afterTokens.has(term.token))
      writes.push({ delete: 'kbToken', key: { tenantId, articleId, token: term.token } });
  }
  return writes;
}

const categoryLookups = (a: StoredArticle | undefined): LookupEntry[] =>
  a && !a.deletedAt ? a.categories.map((c) => ({ kind: 'article.category' as const, value: `${a.status}#${c}` })) : [];

/** The article, its category lookups and its token delta in one transaction (plus the idempotency record). */
async function writeArticle(
  principal: Principal,
  next: StoredArticle,
  previous: StoredArticle | undefined,
  idempotency?: ApiRequest['idempotency'],
): Promise<ArticleView> {
  const view = articleView(asRecord(next));
  await writeRecord({
    entity: 'article',
    item: { ...next, ...articleKeys(next) },
    ...versionCondition('article', next.articleId, previous),
    lookups: {
      tenantId: principal.tenantId,
      targetId: next.articleId,
      next: categoryLookups(next),
      previous: categoryLookups(previous),
      summary: articleSummary(next),
      ...(previous ? { previousSummary: articleSummary(previous) } : {}),
    },
    items: tokenWrites(next, previous),
    ...(idempotency
      ? { idempotency: { tenantId: principal.tenantId, ...idempotency, statusCode: 201, response: view } }
      : {}),
  });
  return view;
}

/** Publishing, unpublishing and changing what readers see need kb:publish; drafts only kb:write. */
function requirePublishRight(principal: Principal, ...statuses: Array<Status | undefined>) {
  if (statuses.includes('published') && !can(principal.roles, 'kb:publish')) {
    throw new ForbiddenError('Publishing, unpublishing or changing a published article needs kb:publish.');
  }
}

export async function createArticle(
  principal: Principal,
  input: ArticleCreateInput,
  idempotency?: ApiRequest['idempotency'],
): Promise<ArticleView> {
  const status = input.status ?? 'draft';
  requirePublishRight(principal, status);
  const now = new Date().toISOString();
  const locale = input.locale ?? 'en';
  const article: StoredArticle = {
    tenantId: principal.tenantId,
    articleId: ulid(),
    title: input.title,
    sortName: sortableName(input.title),
    body: input.body,
    status,
    locale,
    categories: input.categories ?? [],
    tags: input.tags ?? [],
    authorId: principal.userId,
    ...(status === 'published' ? { publishedAt: now } : {}),
    searchTerms: indexTerms(input.title, input.body, locale),
    version: 1,
    createdAt: now,
    updatedAt: now,
    createdBy: principal.userId,
    updatedBy: principal.userId,
  };
  return writeArticle(principal, article, undefined, idempotency);
}

export async function getArticle(principal: Principal, articleId: string): Promise<ArticleView> {
  return articleView(asRecord(await readVisible(principal, articleId)));
}

export async function patchArticle(
  principal: Principal,
  articleId: string,
  patch: ArticlePatchInput,
  ifMatch?: VersionPrecondition,
): Promise<ArticleView> {
  const previous = await readVisible(principal, articleId);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('article', articleId);
  const merged: StoredArticle = { ...previous, ...patch };
  const unchanged = (Object.keys(patch) as Array<keyof ArticlePatchInput>).every((field) =>
    isDeepStrictEqual(previous[field], merged[field]),
  );
  if (unchanged) return articleView(asRecord(previous));
  requirePublishRight(principal, previous.status, merged.status);
  const now = new Date().toISOString();
  const next: StoredArticle = {
    ...merged,
    sortName: sortableName(merged.title),
    searchTerms: indexTerms(merged.title, merged.body, merged.locale),
    ...(merged.status === 'published' && previous.status !== 'published' ? { publishedAt: now } : {}),
    version: previous.version + 1,
    updatedAt: now,
    updatedBy: principal.userId,
  };
  if (next.status === 'draft') delete next.publishedAt;
  return writeArticle(principal, next, previous);
}

/** Soft delete: out of every list and the search index (its tokens deleted), restorable from the trash. */
export async function deleteArticle(principal: Principal, articleId: string, ifMatch?: VersionPrecondition) {
  const previous = await readVisible(principal, articleId);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('article', articleId);
  requirePublishRight(principal, previous.status);
  await writeArticle(principal, trashedVersion(previous, principal.userId), previous);
}

/** Back from the trash with the status it had, re-indexed. */
export async function restoreArticle(
  principal: Principal,
  articleId: string,
  ifMatch?: VersionPrecondition,
): Promise<ArticleView> {
  const previous = await readArticle(principal.tenantId, articleId);
  if (!previous) throw new NotFoundError('article', articleId);
  if (!previous.deletedAt)
    throw new DomainError(409, 'article.not_deleted', `article ${articleId} is not in the trash.`);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('article', articleId);
  requirePublishRight(principal, previous.status);
  return writeArticle(principal, restoredVersion(previous, principal.userId), previous);
}

const FILTERS = ['category', 'locale', 'inTrash'] as const;

/**
 * One Query per list, always of one status (published unless asked; drafts and the trash need kb:write): by title,
 * by locale (gsi3), by category (the category's lookup items: summaries) or the trash (gsi4).
 */
export async function listArticles(
  principal: Principal,
  filters: ArticleListFilters,
): Promise<Page<ArticleView | ArticleSummaryView>> {
  const t = principal.tenantId;
  const page = { limit: filters.limit, cursor: filters.cursor };
  if (filters.status === 'draft') requireEditor(principal, 'Drafts');
  const asViews = (result: Page<Record<string, unknown>>) => ({
    items: result.items.map(articleView),
    nextCursor: result.nextCursor,
  });
  switch (singleFilter(filters, FILTERS)) {
    case 'category':
      return queryLookup<ArticleSummaryView>(t, 'article.category', `${filters.status}#${filters.category}`, page);
    case 'locale':
      return asViews(
        await queryIndex('article', 'gsi3', articleIndex.locale(t, filters.status, filters.locale!), page),
      );
    case 'inTrash':
      requireEditor(principal, 'The trash and drafts');
      return asViews(await queryIndex('article', 'gsi4', articleIndex.trash(t), page, { order: 'desc' }));
    default:
      return asViews(await queryIndex('article', 'gsi2', articleIndex.status(t, filters.status), page));
  }
}

/** How many index items one query word reads (one Query each: exact token, heaviest first; and prefix, by word). */
export const MAX_MATCHES_PER_WORD = 100;

interface TokenMatch {
  articleId: string;
  weight: number;
}

/** One query word's articles and weights: the exact token's partition and, for a word being typed, its prefix. */
async function matchWord(
  tenantId: string,
  status: Status,
  locale: string,
  word: QueryWord,
): Promise<Map<string, number>> {
  const tokens = model.entities.kbToken.query;
  const [exact, prefixed] = await Promise.all([
    word.token
      ? tokens
          .gsi2({ gsi2pk: articleIndex.token(tenantId, status, locale, word.token) })
          .go({ limit: MAX_MATCHES_PER_WORD })
      : { data: [] as TokenMatch[] },
    word.prefix
      ? tokens
          .gsi3({ gsi3pk: articleIndex.prefix(tenantId, status, locale, word.prefix) })
          .begins({ gsi3sk: word.prefix })
          .go({ limit: MAX_MATCHES_PER_WORD })
      : { data: [] as TokenMatch[] },
  ]);
  const weights = new Map<string, number>();
  for (const match of [...exact.data, ...prefixed.data] as TokenMatch[]) {
    weights.set(match.articleId, Math.max(weights.get(match.articleId) ?? 0, match.weight));
  }
  return weights;
}

/**
 * The best `limit` articles from each word's matches (article id -> weight): more matched words first, then the
 * higher sum of weights, then the newer id (ULIDs sort by creation).
 */
export function rankMatches(
  perWord: ReadonlyArray<ReadonlyMap<string, number>>,
  limit: number,
): Array<[string, { score: number; matchedWords: number }]> {
  const totals = new Map<string, { score: number; matchedWords: number }>();
  for (const weights of perWord) {
    for (const [articleId, weight] of weights) {
      const total = totals.get(articleId) ?? { score: 0, matchedWords: 0 };
      total.score += weight;
      total.matchedWords += 1;
      totals.set(articleId, total);
    }
  }
  return [...totals.entries()]
    .sort(([idA, a], [idB, b]) => b.matchedWords - a.matchedWords || b.score - a.score || (idA < idB ? 1 : -1))
    .slice(0, limit);
}

/**
 * Ranks articles for query words with one or two Queries per word (never a Scan): articles matching more words
 * first, then by summed weights (title words count TITLE_WEIGHT each), then newest id; the best `limit` are read
 * (GetItem each) and returned if still live in that status and locale.
 */
export async function rankArticles(
  tenantId: string,
  status: Status,
  locale: string,
  words: QueryWord[],
  limit: number,
): Promise<SearchHitView[]> {
  const perWord = await Promise.all(words.map((word) => matchWord(tenantId, status, locale, word)));
  const best = rankMatches(perWord, limit);
  const articles = await Promise.all(best.map(([articleId]) => readArticle(tenantId, articleId)));
  const hits: SearchHitView[] = [];
  articles.forEach((article, i) => {
    if (!article || article.deletedAt || article.status !== status || article.locale !== locale) return;
    hits.push({ ...articleSummary(article), ...best[i]![1] });
  });
  return hits;
}

/** GET /v1/kb/search: published articles of a locale (drafts for editors who ask), best first. */
export async function searchArticles(principal: Principal, input: ArticleSearchInput) {
  if (input.status === 'draft') requireEditor(principal, 'Drafts');
  const words = queryWords(input.q, input.locale);
  const items = words.length
    ? await rankArticles(principal.tenantId, input.status, input.locale, words, input.limit)
    : [];
  return { items, limit: input.limit };
}

/**
 * Published articles for a ticket, from its subject and body: the ticket's heaviest words (subject counting like a
 * title) ranked through the same index. What the ticket integration calls.
 */
export async function suggestArticles(
  tenantId: string,
  ticket: { subject?: string; body?: string; locale?: string },
  limit = 5,
): Promise<SearchHitView[]> {
  const locale = ticket.locale ?? 'en';
  const words = ticketWords(ticket.subject ?? '', ticket.body ?? '', locale);
  return words.length ? rankArticles(tenantId, 'published', locale, words, limit) : [];
}
