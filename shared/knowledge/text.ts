import { porterStem } from './stemmer.ts';

/**
 * How article text becomes search tokens, the same way for what is indexed and what is searched: Unicode NFKD with
 * accents dropped ("Café" -> "cafe"), lower-cased, split on anything that is not a letter or digit, words of one
 * character and stop words dropped, then stemmed. Stemming (Porter, ./stemmer.ts) and the stop words are English:
 * they apply to articles whose locale is `en` or `en-*`; other locales are matched on folded whole words (and by
 * prefix for the last word of a query).
 */

/** The most tokens one article is indexed under: its most significant ones (see indexTerms). */
export const MAX_TOKENS_PER_ARTICLE = 40;
/** A query uses at most this many distinct words (one Query each, plus one for the last word's prefix). */
export const MAX_QUERY_WORDS = 8;
/** Longer words are cut to this many characters (keys stay small; nobody searches by a 40-letter word). */
export const MAX_TOKEN_LENGTH = 32;
/** A title word counts this much more than a body word. */
export const TITLE_WEIGHT = 5;
/** Weights are capped so the weight-ordered sort key has a fixed width (see kbTokenKeys). */
export const MAX_WEIGHT = 999;
/** Only the start of a long body is read for tokens (articles' most significant words are there). */
const MAX_TEXT_SCANNED = 20_000;

const ENGLISH_STOP_WORDS = new Set(
  (
    'a about above after again against all am an and any are as at be because been before being below between both ' +
    'but by can could did do does doing down during each few for from further had has have having he her here hers ' +
    'herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on ' +
    'once only or other our ours ourselves out over own same she should so some such than that the their theirs ' +
    'them themselves then there these they this those through to too under until up very was we were what when ' +
    'where which while who whom why will with would you your yours yourself yourselves'
  ).split(' '),
);

export const isEnglish = (locale: string): boolean => locale === 'en' || locale.toLowerCase().startsWith('en-');

/** Folded words of a text, in order: accents dropped, lower-cased, 2+ characters, cut at MAX_TOKEN_LENGTH. */
export function foldedWords(text: string): string[] {
  return text
    .slice(0, MAX_TEXT_SCANNED)
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .map((word) => Array.from(word).slice(0, MAX_TOKEN_LENGTH).join(''))
    .filter((word) => Array.from(word).length >= 2);
}

/** The index token of a folded word, or undefined for a stop word. */
export function tokenOf(word: string, locale: string): string | undefined {
  if (!isEnglish(locale)) return word;
  if (ENGLISH_STOP_WORDS.has(word)) return undefined;
  return porterStem(word);
}

export interface IndexTerm {
  token: string;
  /** TITLE_WEIGHT per title occurrence + 1 per body occurrence, capped at MAX_WEIGHT. */
  weight: number;
  /** The longest word seen with this token (what the last word of a query is prefix-matched against). */
  surface: string;
}

/**
 * The tokens an article is indexed under: the MAX_TOKENS_PER_ARTICLE heaviest, ties broken by token, so the same
 * text always gives the same terms (and a write changes only the items of tokens that changed).
 */
export function indexTerms(title: string, body: string, locale: string): IndexTerm[] {
  const terms = new Map<string, IndexTerm>();
  const add = (text: string, weight: number) => {
    for (const word of foldedWords(text)) {
      const token = tokenOf(word, locale);
      if (token === undefined) continue;
      const term = terms.get(token) ?? { token, weight: 0, surface: word };
      term.weight = Math.min(MAX_WEIGHT, term.weight + weight);
      if (word.length > term.surface.length) term.surface = word;
      terms.set(token, term);
    }
  };
  add(title, TITLE_WEIGHT);
  add(body, 1);
  return [...terms.values()]
    .sort((a, b) => b.weight - a.weight || (a.token < b.token ? -1 : a.token > b.token ? 1 : 0))
    .slice(0, MAX_TOKENS_PER_ARTICLE);
}

export interface QueryWord {
  /** Matched exactly against article tokens. */
  token: string;
  /** Set for the last word while it is being typed: matched as a prefix of the words articles were indexed under. */
  prefix?: string;
}

/**
 * The words of a search: distinct tokens, at most MAX_QUERY_WORDS. The last word is also a prefix (type-ahead)
 * unless the query ends with a space: "password res" finds "reset" and "resetting". A prefix is kept even when its
 * word is a stop word ("th" may be the start of "thread").
 */
export function queryWords(q: string, locale: string): QueryWord[] {
  const words = foldedWords(q);
  const typing = words.length > 0 && /[\p{L}\p{N}]$/u.test(q.normalize('NFKD').replace(/\p{M}+/gu, ''));
  const result: QueryWord[] = [];
  const seen = new Set<string>();
  words.forEach((word, i) => {
    const isLast = i === words.length - 1;
    const token = tokenOf(word, locale);
    if (isLast && typing) {
      result.push({ token: token ?? '', prefix: word });
      return;
    }
    if (token === undefined || seen.has(token)) return;
    seen.add(token);
    result.push({ token });
  });
  // Keep the last (typed) word when capping: it is the one the user is looking at.
  if (result.length > MAX_QUERY_WORDS) return [...result.slice(0, MAX_QUERY_WORDS - 1), result.at(-1)!];
  return result;
}

/** The words of a ticket to suggest articles for: its heaviest tokens, subject counting like a title. */
export function ticketWords(subject: string, body: string, locale: string): QueryWord[] {
  return indexTerms(subject, body, locale)
    .slice(0, MAX_QUERY_WORDS)
    .map((term) => ({ token: term.token }));
}
