import { createHash } from 'node:crypto';
import type { PreferenceView } from './preferences.ts';

/**
 * The public pages' HTML: small, no script, no external resource, one inline stylesheet allowed by its hash in a
 * strict Content-Security-Policy. Forms post back to the page's own URL (the token is in it). Every tenant- or
 * contact-supplied text is escaped.
 */
const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#222;line-height:1.5}' +
  'h1{font-size:1.4rem}button{font:inherit;padding:.5rem 1rem;margin:.5rem 0;cursor:pointer}' +
  'label{display:block;margin:.5rem 0}small{color:#666;display:block;margin-left:1.6rem}' +
  '.note{background:#f3f3f3;padding:.5rem 1rem}';

const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

/** Headers of every page: nothing runs, nothing loads, nothing frames it, the token never leaves as a Referer. */
export const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy': `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

export const HTML_CONTENT_TYPE = 'text/html; charset=utf-8';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

function page(title: string, body: string): string {
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex">` +
    `<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>`
  );
}

/** The preference page of the same link, relative to /v1/unsubscribe/{token}: no base URL needed. */
const preferencesHref = (token: string) => `../preferences/${escapeHtml(encodeURIComponent(token))}`;

const who = (view: PreferenceView) => (view.maskedEmail ? ` for ${escapeHtml(view.maskedEmail)}` : '');

const what = (view: PreferenceView) =>
  view.linkCategory ? `“${escapeHtml(view.linkCategory.name)}” emails` : 'all marketing email';

/** The same page for every link that does not work, whatever the reason. */
export const notFoundPage = () =>
  page('Link not valid', '<h1>This link is not valid</h1><p>It may be incomplete. Nothing was changed.</p>');

export const tooManyRequestsPage = () =>
  page('Try again later', '<h1>Too many requests</h1><p>Please try again in a few minutes. Nothing was changed.</p>');

/** The one-click link opened in a browser (or by a link scanner): a button, since a GET must change nothing. */
export const confirmUnsubscribePage = (view: PreferenceView, token: string) =>
  page(
    'Unsubscribe',
    `<h1>Unsubscribe${who(view)}?</h1><p>You will no longer receive ${what(view)}.</p>` +
      '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">' +
      '<button type="submit">Unsubscribe</button></form>' +
      `<p><a href="${preferencesHref(token)}">Choose which emails you get instead</a></p>`,
  );

export const unsubscribedPage = (view: PreferenceView, token: string) =>
  page(
    'Unsubscribed',
    `<h1>You are unsubscribed</h1><p>You will no longer receive ${what(view)}${who(view)}.</p>` +
      `<p><a href="${preferencesHref(token)}">Manage your email preferences</a></p>`,
  );

export function preferencesPage(view: PreferenceView, saved = false): string {
  const notice = saved ? '<p class="note">Your preferences are saved.</p>' : '';
  const withdrawn =
    view.emailConsent === 'withdrawn'
      ? '<p class="note">You are unsubscribed from all marketing email. The choices below apply if you sign up again.</p>'
      : '';
  const boxes = view.categories
    .map(
      (c) =>
        `<label><input type="checkbox" name="categories" value="${escapeHtml(c.id)}"${c.subscribed ? ' checked' : ''}> ` +
        `${escapeHtml(c.name)}${c.description ? `<small>${escapeHtml(c.description)}</small>` : ''}</label>`,
    )
    .join('');
  const categoriesForm =
    view.categories.length > 0
      ? `<form method="post"><input type="hidden" name="form" value="preferences">${boxes}` +
        '<button type="submit">Save my choices</button></form>'
      : '';
  const allForm =
    view.emailConsent === 'withdrawn'
      ? ''
      : '<form method="post"><input type="hidden" name="form" value="preferences">' +
        '<input type="hidden" name="unsubscribeAll" value="true">' +
        '<button type="submit">Unsubscribe from all marketing email</button></form>';
  return page(
    'Email preferences',
    `<h1>Email preferences${who(view)}</h1>${notice}${withdrawn}${categoriesForm}${allForm}`,
  );
}
