import { Liquid, type Template } from 'liquidjs';
import { DomainError } from '../errors.ts';
import { type DeclaredCustomFields, fieldProblem, type MergeContext, mergeScope } from './fields.ts';

export type { DeclaredCustomFields, MergeContext } from './fields.ts';
export { loadMergeContext, loadMergeContexts, mergeContextsFor } from './merge-context.ts';

/**
 * Marketing templates: liquid (liquidjs) with strict variables and static analysis, so every merge field is known
 * before a send; HTML output always escaped; bounded in size, parse length, render time and memory.
 */

export type TemplatePart = 'subject' | 'html' | 'text';
export const TEMPLATE_PARTS: readonly TemplatePart[] = ['subject', 'html', 'text'];

export interface TemplateSource {
  subject: string;
  html?: string | undefined;
  text?: string | undefined;
}

export interface RenderedTemplate {
  subject: string;
  html?: string;
  text?: string;
}

export interface TemplateFieldError {
  field: TemplatePart;
  message: string;
  line?: number;
  column?: number;
}

/**
 * Stored caps (bytes of UTF-8): a subject is one header line (RFC 5322's 998), and the parts together stay well
 * inside DynamoDB's 400 KB item (html 256 KiB + text 64 KiB).
 */
export const PART_MAX_BYTES: Record<TemplatePart, number> = { subject: 998, html: 256 * 1024, text: 64 * 1024 };
/** Caps on what one render may produce (values can be longer than the fields naming them). */
export const RENDERED_MAX_BYTES: Record<TemplatePart, number> = {
  subject: 998,
  html: 1024 * 1024,
  text: 256 * 1024,
};
/** liquidjs limits: characters per parse, milliseconds per render, and its allocation units per render. */
export const LIQUID_LIMITS = { parseLimit: 256 * 1024, renderLimit: 1000, memoryLimit: 4_000_000 } as const;

/**
 * Tags a template may use. Gone: include/render/layout/block (they would read files), and cycle, increment,
 * decrement and tablerow, which write values past the output escaping.
 */
const ALLOWED_TAGS = new Set([
  'assign',
  'capture',
  'case',
  'comment',
  '#',
  'if',
  'unless',
  'for',
  'break',
  'continue',
  'raw',
  'echo',
  'liquid',
]);

function engine(html: boolean): Liquid {
  const liquid = new Liquid({
    strictVariables: true,
    strictFilters: true,
    ownPropertyOnly: true,
    // An in-memory (empty) template map: no file system behind any tag, even if one slipped through.
    templates: {},
    ...(html ? { outputEscape: 'escape' as const } : {}),
    ...LIQUID_LIMITS,
  });
  for (const tag of Object.keys(liquid.tags)) if (!ALLOWED_TAGS.has(tag)) delete liquid.tags[tag];
  // `raw` would switch escaping off for a value; as a plain filter it changes nothing and the escape still runs.
  if (html) liquid.registerFilter('raw', (value: unknown) => value);
  return liquid;
}

const engines = { html: engine(true), text: engine(false) };
const engineFor = (part: TemplatePart) => (part === 'html' ? engines.html : engines.text);

interface Compiled {
  templates: Template[];
  /** The merge fields used, as paths (valid or not). */
  fields: string[];
  /** Each use of a field, with where it is. */
  uses: Array<{ segments: readonly unknown[]; location: { row: number; col: number } }>;
  errors: TemplateFieldError[];
}

/** Parsed parts by source: a campaign renders one template for many recipients. */
const compiled = new Map<string, Compiled>();
const COMPILED_CACHE_SIZE = 50;

function compile(part: TemplatePart, source: string, declared?: DeclaredCustomFields): Compiled {
  const cacheKey = `${part}\u0000${source}`;
  let entry = compiled.get(cacheKey);
  if (!entry) {
    entry = parse(part, source);
    compiled.set(cacheKey, entry);
    if (compiled.size > COMPILED_CACHE_SIZE) compiled.delete(compiled.keys().next().value as string);
  }
  if (!declared) return entry;
  // Declared custom fields differ per tenant: check them on top of the cached analysis.
  return { ...entry, errors: [...entry.errors, ...customFieldErrors(part, entry, declared)] };
}

function parse(part: TemplatePart, source: string): Compiled {
  const bytes = Buffer.byteLength(source, 'utf8');
  if (bytes > PART_MAX_BYTES[part]) {
    return {
      templates: [],
      fields: [],
      uses: [],
      errors: [{ field: part, message: `The ${part} is ${bytes} bytes; at most ${PART_MAX_BYTES[part]} are allowed.` }],
    };
  }
  const liquid = engineFor(part);
  let templates: Template[];
  try {
    templates = liquid.parse(source);
  } catch (error) {
    return { templates: [], fields: [], uses: [], errors: [liquidError(part, error)] };
  }
  const { globals, variables } = liquid.analyzeSync(templates, { partials: false });
  const uses = Object.values(globals)
    .flat()
    .map((v) => ({ segments: v.segments, location: v.location }))
    .sort((a, b) => a.location.row - b.location.row || a.location.col - b.location.col);
  const fields = new Set(uses.map((u) => u.segments.map(String).join('.')));
  const errors: TemplateFieldError[] = [];
  for (const use of uses) {
    const problem = fieldProblem(use.segments);
    if (problem) errors.push({ field: part, message: problem, ...at(use.location) });
  }
  // A template variable named like a root (`{% assign contact = ... %}`, `{% for owner in ... %}`) would hide the
  // recipient's fields where it is used: every use of a root must be the merge data itself.
  const globalAt = new Set(uses.map((u) => `${u.location.row}:${u.location.col}`));
  for (const variable of Object.values(variables).flat()) {
    const name = String(variable.segments[0]);
    if (!RESERVED_ROOTS.has(name) || globalAt.has(`${variable.location.row}:${variable.location.col}`)) continue;
    errors.push({
      field: part,
      message: `"${name}" here is a variable of the template, not the merge field: give the variable another name.`,
      ...at(variable.location),
    });
  }
  return { templates, fields: [...fields].sort(), uses, errors };
}

const RESERVED_ROOTS = new Set(['contact', 'company', 'owner', 'unsubscribeUrl', 'preferencesUrl']);

function customFieldErrors(part: TemplatePart, entry: Compiled, declared: DeclaredCustomFields) {
  const errors: TemplateFieldError[] = [];
  for (const use of entry.uses) {
    if (fieldProblem(use.segments)) continue; // already reported
    const problem = fieldProblem(use.segments, declared);
    if (problem) errors.push({ field: part, message: problem, ...at(use.location) });
  }
  return errors;
}

const at = (location: { row: number; col: number }) => ({ line: location.row, column: location.col });

/** A liquidjs error as a field error: its message without the position suffix, the position apart. */
function liquidError(part: TemplatePart, error: unknown): TemplateFieldError {
  const e = error as { message?: string; token?: { getPosition?: () => [number, number] } };
  const position = e.token?.getPosition?.();
  let message = String(e.message ?? error).replace(/, line:\d+, col:\d+$/, '');
  const tag = /^tag "?([^"\s]+)"? not found/.exec(message);
  if (tag) message = `The {% ${tag[1]} %} tag is not available in email templates.`;
  else if (message.startsWith('undefined filter: '))
    message = `Unknown filter "${message.slice('undefined filter: '.length)}".`;
  return { field: part, message, ...(position ? { line: position[0], column: position[1] } : {}) };
}

function partsOf(template: TemplateSource): Array<[TemplatePart, string]> {
  return TEMPLATE_PARTS.flatMap((part) => {
    const source = template[part];
    return typeof source === 'string' ? [[part, source] as [TemplatePart, string]] : [];
  });
}

/**
 * Everything wrong with a template, each with its part and, where it has one, line and column (1-based): too large,
 * syntax, unknown tags or filters, unknown merge fields. Empty when it can be sent. With `declared`, custom fields
 * must be declared in the tenant's schema (see `declaredCustomFields`).
 */
export function templateFieldErrors(template: TemplateSource, declared?: DeclaredCustomFields): TemplateFieldError[] {
  const errors: TemplateFieldError[] = [];
  if (template.subject.trim() === '') errors.push({ field: 'subject', message: 'The subject is empty.' });
  if (template.html === undefined && template.text === undefined) {
    errors.push({ field: 'html', message: 'Give an HTML part, a text part or both.' });
  }
  for (const part of ['html', 'text'] as const) {
    if (template[part]?.trim() === '')
      errors.push({ field: part, message: `The ${part} part is empty: leave it out.` });
  }
  for (const [part, source] of partsOf(template)) errors.push(...compile(part, source, declared).errors);
  return errors;
}

/** The merge fields the template uses, e.g. ['company.name', 'contact.firstName'] (sorted, once each). */
export function templateFields(template: TemplateSource): string[] {
  const fields = new Set<string>();
  for (const [part, source] of partsOf(template)) for (const f of compile(part, source).fields) fields.add(f);
  return [...fields].sort();
}

/** A template that cannot be rendered for this recipient (or at all): 422 with the part and the place. */
export class TemplateRenderError extends DomainError {
  constructor(code: string, message: string, detail: TemplateFieldError) {
    super(422, code, message, { field: detail.field, ...positionOf(detail) });
  }
}

const positionOf = (e: TemplateFieldError) =>
  e.line !== undefined ? { line: e.line, column: e.column } : ({} as Record<string, never>);

export interface RenderOptions {
  /** The recipient's links: filled into {{ unsubscribeUrl }} / {{ preferencesUrl }}, and a footer where missing. */
  links?: { unsubscribeUrl: string; preferencesUrl: string };
}

/**
 * Renders each part for one recipient. HTML values are escaped (whatever the template says); the subject comes out
 * as one line. With links, an HTML or text part that does not show the unsubscribe URL gets the standard footer.
 * Throws TemplateRenderError for an invalid template, a limit reached or an output over its cap.
 */
export async function renderTemplate(
  template: TemplateSource,
  context: MergeContext,
  options: RenderOptions = {},
): Promise<RenderedTemplate> {
  const links = options.links;
  const full: MergeContext = links ? { ...context, ...links } : context;
  const rendered: RenderedTemplate = { subject: '' };
  for (const [part, source] of partsOf(template)) {
    const { templates, fields, errors } = compile(part, source);
    const first = errors[0];
    if (first)
      throw new TemplateRenderError('template.invalid', `The ${part} cannot be rendered: ${first.message}`, first);
    let output: string;
    try {
      // Synchronous: no tag or filter left in the engines is asynchronous, and it renders about 3x faster.
      output = String(engineFor(part).renderSync(templates, mergeScope(full, fields)));
    } catch (error) {
      const detail = liquidError(part, error);
      const limit = /limit exceeded/.test(detail.message);
      throw new TemplateRenderError(
        limit ? 'template.limit_exceeded' : 'template.render_failed',
        limit
          ? `Rendering the ${part} went over a limit (${detail.message}); simplify the template.`
          : `The ${part} cannot be rendered: ${detail.message}`,
        detail,
      );
    }
    if (part === 'subject') output = output.replace(/\s*[\r\n]+\s*/g, ' ').trim();
    else if (links) output = withFooter(part, output, links);
    const bytes = Buffer.byteLength(output, 'utf8');
    if (bytes > RENDERED_MAX_BYTES[part]) {
      throw new TemplateRenderError(
        'template.output_too_large',
        `The rendered ${part} is ${bytes} bytes; at most ${RENDERED_MAX_BYTES[part]} are allowed.`,
        { field: part, message: 'too large' },
      );
    }
    rendered[part] = output;
  }
  return rendered;
}

export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Appends the standard unsubscribe footer to a part that does not carry the link itself. */
function withFooter(part: 'html' | 'text', output: string, links: NonNullable<RenderOptions['links']>): string {
  const url = links.unsubscribeUrl;
  if (part === 'text') {
    if (output.includes(url)) return output;
    return `${output.replace(/\s+$/, '')}\n\n--\nUnsubscribe: ${url}\nManage your email preferences: ${links.preferencesUrl}\n`;
  }
  if (output.includes(escapeHtml(url)) || output.includes(url)) return output;
  const footer =
    '<p style="margin-top:24px;font-size:12px;color:#666666">' +
    `<a href="${escapeHtml(url)}">Unsubscribe</a> · ` +
    `<a href="${escapeHtml(links.preferencesUrl)}">Manage your email preferences</a></p>`;
  const bodyEnd = output.toLowerCase().lastIndexOf('</body>');
  return bodyEnd === -1 ? `${output}${footer}` : `${output.slice(0, bodyEnd)}${footer}${output.slice(bodyEnd)}`;
}
