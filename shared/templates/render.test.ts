import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MergeContext } from './fields.ts';
import {
  PART_MAX_BYTES,
  RENDERED_MAX_BYTES,
  renderTemplate,
  TemplateRenderError,
  templateFieldErrors,
  templateFields,
} from './render.ts';

const ada: MergeContext = {
  contact: {
    firstName: 'Ada',
    lastName: 'Lovelace',
    fullName: 'Ada Lovelace',
    email: 'ada@example.com',
    address: { city: 'London' },
    custom: { tier: 'gold' },
  },
  company: { name: 'Analytical <Engines> & Co', custom: { plan: 'pro' } },
  owner: { name: 'Grace', email: 'grace@crm.example' },
};
const links = {
  unsubscribeUrl: 'https://api.example/v1/unsubscribe/tok?a=1&b=2',
  preferencesUrl: 'https://p.example/x',
};

async function renderError(promise: Promise<unknown>): Promise<TemplateRenderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TemplateRenderError);
  return error as TemplateRenderError;
}

describe('templateFieldErrors', () => {
  it('accepts known contact, company, owner, custom and link fields', () => {
    const template = {
      subject: 'Hi {{ contact.firstName | default: "there" }} from {{ company.name }}',
      html: '<p>{{ contact.address.city }} {{ contact.custom.tier }} {{ owner.email }} {{ company.custom.plan }}</p><a href="{{ unsubscribeUrl }}">x</a>',
      text: '{% if contact.lastName %}{{ contact.lastName | upcase }}{% endif %} {{ preferencesUrl }}',
    };
    expect(templateFieldErrors(template)).toEqual([]);
    expect(templateFields(template)).toEqual([
      'company.custom.plan',
      'company.name',
      'contact.address.city',
      'contact.custom.tier',
      'contact.firstName',
      'contact.lastName',
      'owner.email',
      'preferencesUrl',
      'unsubscribeUrl',
    ]);
  });

  it('names an unknown field with its part, line and column', () => {
    const errors = templateFieldErrors({
      subject: 'Hello',
      html: '<p>\n  Hi {{ contact.frstName }}\n{{ foo }}</p>',
      text: 'ok {{ owner.phone }}',
    });
    expect(errors).toEqual([
      { field: 'html', message: expect.stringContaining('Unknown merge field "contact.frstName"'), line: 2, column: 9 },
      { field: 'html', message: expect.stringContaining('Unknown merge field "foo"'), line: 3, column: 4 },
      { field: 'text', message: expect.stringContaining('"owner.phone"'), line: 1, column: 7 },
    ]);
  });

  it('checks custom fields against the declared ones when given', () => {
    const template = {
      subject: 's',
      text: '{{ contact.custom.tier }} {{ contact.custom.colour }} {{ company.custom.plan }}',
    };
    expect(templateFieldErrors(template)).toEqual([]);
    expect(templateFieldErrors(template, { contact: ['tier'], company: [] })).toEqual([
      { field: 'text', message: expect.stringContaining('no custom field "colour"'), line: 1, column: 30 },
      { field: 'text', message: expect.stringContaining('no custom field "plan"'), line: 1, column: 58 },
    ]);
  });

  it('refuses computed names, bare roots, unknown filters, file tags and unescaped writers', () => {
    const errorsOf = (text: string) => templateFieldErrors({ subject: 's', text });
    expect(errorsOf('{{ contact[x] }}')[0]?.message).toMatch(/computed names/);
    expect(errorsOf('{{ contact }}')[0]?.message).toMatch(/Unknown merge field "contact"/);
    expect(errorsOf('x {{ contact.firstName | shout }}')[0]).toEqual({
      field: 'text',
      message: 'Unknown filter "shout".',
      line: 1,
      column: 3,
    });
    for (const tag of ['include', 'render', 'layout', 'cycle', 'increment', 'tablerow']) {
      expect(errorsOf(`a\n{% ${tag} "x" %}`)[0]).toMatchObject({
        field: 'text',
        message: `The {% ${tag} %} tag is not available in email templates.`,
        line: 2,
      });
    }
  });

  it('reports syntax errors with their position', () => {
    expect(templateFieldErrors({ subject: 'Hi {{ contact.firstName ', text: 'x' })).toEqual([
      { field: 'subject', message: expect.stringContaining('not closed'), line: 1, column: 4 },
    ]);
    expect(templateFieldErrors({ subject: 's', html: '<p>\n{% if contact.firstName %}</p>' })[0]).toMatchObject({
      field: 'html',
      line: 2,
      column: 1,
    });
  });

  it('needs a subject and a body part, and caps each part in bytes', () => {
    expect(templateFieldErrors({ subject: ' ' }).map((e) => e.field)).toEqual(['subject', 'html']);
    expect(templateFieldErrors({ subject: 's', html: ' \n', text: 'x' })).toEqual([
      { field: 'html', message: 'The html part is empty: leave it out.' },
    ]);
    const tooLong = { subject: 'é'.repeat(500), html: 'x'.repeat(PART_MAX_BYTES.html + 1), text: 'ok' };
    expect(templateFieldErrors(tooLong)).toEqual([
      { field: 'subject', message: 'The subject is 1000 bytes; at most 998 are allowed.' },
      { field: 'html', message: `The html is ${PART_MAX_BYTES.html + 1} bytes; at most 262144 are allowed.` },
    ]);
  });

  it('keeps template variables from hiding the merge field roots', () => {
    const errorsOf = (text: string) => templateFieldErrors({ subject: 's', text });
    expect(errorsOf('{% assign contact = "x" %}\n{{ contact.firstName }}')).toEqual([
      { field: 'text', message: expect.stringMatching(/"contact" here is a variable/), line: 2, column: 4 },
    ]);
    expect(errorsOf('{% for owner in (1..2) %}{{ owner.name }}{% endfor %}')).toEqual([
      { field: 'text', message: expect.stringMatching(/"owner" here is a variable/), line: 1, column: 29 },
    ]);
    expect(errorsOf('{% capture company %}x{% endcapture %}{{ company }}')[0]?.message).toMatch(/"company" here/);
    // Used before the assignment, the root is still the merge data there.
    expect(errorsOf('{{ contact.firstName }}{% assign x = contact.lastName %}{{ x }}')).toEqual([]);
  });

  it('allows locals from assign, capture and for', () => {
    const text =
      '{% assign greeting = "Hi" %}{% capture who %}{{ contact.firstName }}{% endcapture %}' +
      '{% for word in "a,b" | split: "," %}{{ forloop.index }}{{ word }}{% endfor %}{{ greeting }} {{ who }}';
    expect(templateFieldErrors({ subject: 's', text })).toEqual([]);
    expect(templateFields({ subject: 's', text })).toEqual(['contact.firstName']);
  });
});

describe('renderTemplate', () => {
  it('fills fields and applies fallbacks for missing values', async () => {
    const template = {
      subject: 'Hi {{ contact.firstName | default: "there" }}',
      text: 'Dear {{ contact.fullName }}, {{ contact.jobTitle | default: "friend" }} at {{ company.name }} ({{ contact.custom.tier }}/{{ contact.custom.missing | default: "-" }})',
    };
    expect(await renderTemplate(template, ada)).toEqual({
      subject: 'Hi Ada',
      text: 'Dear Ada Lovelace, friend at Analytical <Engines> & Co (gold/-)',
    });
    const bare = await renderTemplate(template, { contact: {} });
    expect(bare).toEqual({ subject: 'Hi there', text: 'Dear , friend at  (/-)' });
  });

  it('escapes every value in the HTML part, and raw does not turn that off; text is not escaped', async () => {
    const evil: MergeContext = {
      contact: { firstName: '<script>alert("x")</script>' },
      company: { name: "O'Neil & <b>" },
    };
    const rendered = await renderTemplate(
      {
        subject: '{{ contact.firstName }}',
        html: '<p>{{ contact.firstName }}|{{ contact.firstName | raw }}|{% echo company.name | raw %}|{{ company.name | upcase }}</p>',
        text: '{{ contact.firstName | raw }}',
      },
      evil,
    );
    const escaped = '&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;';
    expect(rendered.html).toBe(`<p>${escaped}|${escaped}|O&#39;Neil &amp; &lt;b&gt;|O&#39;NEIL &amp; &lt;B&gt;</p>`);
    expect(rendered.text).toBe('<script>alert("x")</script>');
    expect(rendered.subject).toBe('<script>alert("x")</script>');
  });

  it('keeps the subject on one line', async () => {
    const rendered = await renderTemplate(
      { subject: 'A\n{{ contact.firstName }}\r\n B ', text: 'x' },
      {
        contact: { firstName: 'x\r\nBcc: evil@example.com' },
      },
    );
    expect(rendered.subject).toBe('A x Bcc: evil@example.com B');
  });

  it('appends the unsubscribe footer to parts without the link, and not to parts with it', async () => {
    const plain = await renderTemplate({ subject: 's', html: '<html><body><p>Hi</p></BODY></html>', text: 'Hi' }, ada, {
      links,
    });
    expect(plain.html).toBe(
      '<html><body><p>Hi</p><p style="margin-top:24px;font-size:12px;color:#666666">' +
        '<a href="https://api.example/v1/unsubscribe/tok?a=1&amp;b=2">Unsubscribe</a> · ' +
        '<a href="https://p.example/x">Manage your email preferences</a></p></BODY></html>',
    );
    expect(plain.text).toBe(
      `Hi\n\n--\nUnsubscribe: ${links.unsubscribeUrl}\nManage your email preferences: ${links.preferencesUrl}\n`,
    );

    const own = await renderTemplate(
      { subject: 's', html: '<a href="{{ unsubscribeUrl }}">Leave</a>', text: 'Leave: {{ unsubscribeUrl }}' },
      ada,
      { links },
    );
    expect(own.html).toBe('<a href="https://api.example/v1/unsubscribe/tok?a=1&amp;b=2">Leave</a>');
    expect(own.text).toBe(`Leave: ${links.unsubscribeUrl}`);

    // Without links (a preview), nothing is appended and the link fields are empty.
    expect(await renderTemplate({ subject: 's', text: 'Hi {{ unsubscribeUrl }}' }, ada)).toEqual({
      subject: 's',
      text: 'Hi ',
    });
  });

  it('refuses an invalid template with where the problem is', async () => {
    const error = await renderError(renderTemplate({ subject: 's', text: 'ok\n {{ contact.nope }}' }, ada));
    expect(error.status).toBe(422);
    expect(error.code).toBe('template.invalid');
    expect(error.extra).toMatchObject({ field: 'text', line: 2, column: 5 });
  });

  it('stops a render that goes over the time or memory limit', async () => {
    const memory = await renderError(
      renderTemplate({ subject: 's', text: '{% for i in (1..100000000) %}x{% endfor %}' }, ada),
    );
    expect(memory.code).toBe('template.limit_exceeded');
    const slow = await renderError(
      renderTemplate(
        {
          subject: 's',
          text: '{% for i in (1..3000) %}{% for j in (1..3000) %}{% if i == j %}{% endif %}{% endfor %}{% endfor %}',
        },
        ada,
      ),
    );
    expect(slow.code).toBe('template.limit_exceeded');
    expect(slow.message).toMatch(/render limit/);
  });

  it('refuses an output over its cap', async () => {
    const big: MergeContext = { contact: { custom: { essay: 'x'.repeat(6000) } } };
    const html = '{{ contact.custom.essay }}'.repeat(200);
    const error = await renderError(renderTemplate({ subject: 's', html }, big));
    expect(error.code).toBe('template.output_too_large');
    expect(error.extra.field).toBe('html');
    expect(RENDERED_MAX_BYTES.html).toBeLessThan(200 * 6000);
  });
});

describe('any template text', () => {
  // Fragments of liquid, valid and broken, glued at random: every text is either reported (field errors) or renders
  // (or fails with a TemplateRenderError); nothing else is ever thrown.
  const fragment = fc.oneof(
    fc.constantFrom(
      '{{ contact.firstName }}',
      '{{ contact.firstName | default: "x" }}',
      '{{ company.name | upcase | raw }}',
      '{{ contact.custom.tier }}',
      '{{ contact[',
      '{{',
      '}}',
      '{%',
      '%}',
      '{% if contact.lastName %}',
      '{% else %}',
      '{% endif %}',
      '{% for i in (1..3) %}',
      '{% endfor %}',
      '{% assign a = contact.email %}',
      '{{ a }}',
      '{% raw %}',
      '{% endraw %}',
      '{% comment %}',
      '{% endcomment %}',
      '{% liquid echo owner.name %}',
      '{{ unsubscribeUrl }}',
      '{% include "x" %}',
      '{{ "a" | append: contact.phone | size }}',
      '{{ x.y.z }}',
      '{{ contact.constructor }}',
      '{{ __proto__ }}',
      '"',
      '|',
    ),
    fc.string({ maxLength: 12 }),
  );
  const text = fc.array(fragment, { maxLength: 12 }).map((parts) => parts.join(''));

  it('is reported or rendered, never an unexpected error', async () => {
    await fc.assert(
      fc.asyncProperty(text, text, async (subject, html) => {
        const template = { subject: `s${subject}`, html };
        const errors = templateFieldErrors(template);
        for (const e of errors) {
          expect(['subject', 'html', 'text']).toContain(e.field);
          expect(typeof e.message).toBe('string');
        }
        if (errors.length > 0) return;
        try {
          const rendered = await renderTemplate(template, ada, { links });
          expect(rendered.html).toContain('&amp;b=2');
        } catch (error) {
          expect(error).toBeInstanceOf(TemplateRenderError);
        }
      }),
      { numRuns: 300 },
    );
  });
});
