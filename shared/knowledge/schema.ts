import * as z from 'zod';
import { Audit, Id, PageQuery, Tags } from '../api/common-schemas.ts';

export const ARTICLE_STATUSES = ['draft', 'published'] as const;
export const MAX_ARTICLE_BODY_CHARS = 30_000;
export const MAX_ARTICLE_CATEGORIES = 5;
/** Search and suggestions answer the best N, never more: refine the query rather than page through a ranking. */
export const MAX_SEARCH_RESULTS = 25;

/** A BCP 47 language tag, stored in its canonical form ("en-us" -> "en-US"). */
export const Locale = z
  .string()
  .trim()
  .max(35)
  .refine((tag) => {
    if (!/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(tag)) return false;
    try {
      return Intl.getCanonicalLocales(tag).length === 1;
    } catch {
      return false;
    }
  }, 'Use a BCP 47 language tag, e.g. "en", "en-US" or "de-CH".')
  .transform((tag) => Intl.getCanonicalLocales(tag)[0]!)
  .meta({ description: 'BCP 47 language tag, e.g. "en-US" (stored canonical). English ones are stemmed.' });

const Category = z
  .string()
  .trim()
  .min(1)
  .max(50)
  .regex(/^[\p{L}\p{N}][\p{L}\p{N} _.-]*$/u, 'Use letters, digits, spaces, ".", "_" or "-".')
  .transform((c) => c.toLowerCase());

const Categories = z
  .array(Category)
  .max(MAX_ARTICLE_CATEGORIES, `At most ${MAX_ARTICLE_CATEGORIES} categories.`)
  .transform((cs) => [...new Set(cs)])
  .meta({ description: 'Case-insensitive (stored lower-cased), at most 5; each is a list filter.' });

const articleFields = {
  title: z.string().trim().min(1).max(200),
  body: z
    .string()
    .max(MAX_ARTICLE_BODY_CHARS, `At most ${MAX_ARTICLE_BODY_CHARS} characters.`)
    .meta({ description: 'Markdown, stored as written; render it with raw HTML disabled.' }),
  status: z.enum(ARTICLE_STATUSES).meta({ description: 'Publishing (or unpublishing) needs kb:publish.' }),
  locale: Locale,
  categories: Categories,
  tags: Tags,
};

export const ArticleCreate = z
  .strictObject(articleFields)
  .partial({ status: true, locale: true, categories: true, tags: true })
  .meta({ id: 'ArticleCreate', description: 'A new article; status defaults to draft, locale to "en".' });

export const ArticlePatch = z.strictObject(articleFields).partial().meta({
  id: 'ArticlePatch',
  description: 'JSON merge patch of an article. Editing a published one needs kb:publish.',
});

export const Article = z
  .object({
    id: z.string(),
    title: z.string(),
    body: z.string(),
    status: z.enum(ARTICLE_STATUSES),
    locale: z.string(),
    categories: z.array(z.string()),
    tags: z.array(z.string()),
    authorId: z.string().optional(),
    publishedAt: z.string().optional(),
    ...Audit,
  })
  .meta({ id: 'Article' });

export const ArticleSummary = z
  .object({
    id: z.string(),
    title: z.string(),
    status: z.enum(ARTICLE_STATUSES),
    locale: z.string(),
    categories: z.array(z.string()),
    updatedAt: z.string(),
  })
  .meta({ id: 'ArticleSummary', description: 'What a list by category shows: GET the article for all of it.' });

export type ArticleView = z.infer<typeof Article>;
export type ArticleSummaryView = z.infer<typeof ArticleSummary>;
export type ArticleCreateInput = z.output<typeof ArticleCreate>;
export type ArticlePatchInput = z.output<typeof ArticlePatch>;

export const ArticleIdParams = z.object({ articleId: Id });

const StatusFilter = z
  .enum(ARTICLE_STATUSES)
  .default('published')
  .meta({ description: 'published (default) or draft; drafts need kb:write.' });

export const ArticleListQuery = z
  .strictObject({
    ...PageQuery,
    status: StatusFilter,
    category: Category.optional().meta({ description: 'Articles in this category (summaries).' }),
    locale: Locale.optional().meta({ description: 'Articles in this locale, by title.' }),
    inTrash: z
      .enum(['true'])
      .optional()
      .meta({ description: 'true: deleted articles, most recently deleted first (needs kb:write).' }),
  })
  .meta({ id: 'ArticleListQuery' });
export type ArticleListFilters = z.output<typeof ArticleListQuery>;

export const ArticleSearchQuery = z
  .strictObject({
    q: z
      .string()
      .max(200)
      .refine((q) => q.trim() !== '', 'Give at least one word.')
      .meta({ description: 'Words to find; the last one also as a prefix unless q ends with a space.' }),
    locale: Locale.default('en'),
    status: StatusFilter,
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_SEARCH_RESULTS)
      .default(10)
      .meta({ description: `How many of the best matches (1-${MAX_SEARCH_RESULTS}).` }),
  })
  .meta({ id: 'ArticleSearchQuery' });
export type ArticleSearchInput = z.output<typeof ArticleSearchQuery>;

export const SuggestionRequest = z
  .strictObject({
    subject: z.string().max(998).default(''),
    body: z.string().max(MAX_ARTICLE_BODY_CHARS).default(''),
    locale: Locale.default('en'),
    limit: z.number().int().min(1).max(MAX_SEARCH_RESULTS).default(5),
  })
  .refine((r) => r.subject.trim() !== '' || r.body.trim() !== '', {
    message: 'Give a subject or a body.',
    path: ['subject'],
  })
  .meta({ id: 'SuggestionRequest', description: "A ticket's subject and body (what suggestions are made from)." });

export const SearchHit = z
  .object({
    id: z.string(),
    title: z.string(),
    locale: z.string(),
    status: z.enum(ARTICLE_STATUSES),
    categories: z.array(z.string()),
    updatedAt: z.string(),
    score: z.number().int().meta({ description: 'Summed weights of the matched words (title words count 5).' }),
    matchedWords: z.number().int().meta({ description: 'How many query words matched (ranked first).' }),
  })
  .meta({ id: 'ArticleSearchHit' });
export type SearchHitView = z.infer<typeof SearchHit>;

export const SearchResult = z
  .object({ items: z.array(SearchHit), limit: z.number().int() })
  .meta({ id: 'ArticleSearchResult', description: 'The best matches, best first; at most `limit`, no cursor.' });
