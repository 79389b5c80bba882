import fc from 'fast-check';
import ICAL from 'ical.js';
import { describe, expect, it } from 'vitest';
import { escapeText, foldLine, formatUtc, renderCalendar } from './ical.ts';

const unfold = (text: string) => text.replace(/\r\n /g, '');

describe('iCalendar text (RFC 5545)', () => {
  it('escapes backslash, semicolon, comma and newlines in TEXT, and drops other control characters', () => {
    expect(escapeText('a\\b;c,d\ne\r\nf\rg')).toBe('a\\\\b\\;c\\,d\\ne\\nf\\ng');
    expect(escapeText('tab\tstays, bell\u0007 and del\u007f go')).toBe('tab\tstays\\, bell and del go');
  });

  it('writes UTC date-times', () => {
    expect(formatUtc('2031-03-01T09:05:07.123Z')).toBe('20310301T090507Z');
    expect(formatUtc('2031-03-01T10:05:07+01:00')).toBe('20310301T090507Z');
  });

  it('folds at 75 octets, never inside a UTF-8 sequence, and unfolds to the same line', () => {
    const short = 'SUMMARY:short';
    expect(foldLine(short)).toBe(short);
    const long = `DESCRIPTION:${'é'.repeat(100)}`;
    const folded = foldLine(long);
    const lines = folded.split('\r\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const [i, line] of lines.entries()) {
      expect(Buffer.byteLength(line)).toBeLessThanOrEqual(75);
      if (i > 0) expect(line.startsWith(' ')).toBe(true);
    }
    expect(unfold(folded)).toBe(long);
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 400 }), (text) => {
        const out = foldLine(`X:${text}`);
        for (const line of out.split('\r\n')) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(75);
        expect(unfold(out)).toBe(`X:${text}`);
      }),
      { numRuns: 200 },
    );
  });

  it('renders a calendar of events and to-dos that ical.js reads back exactly', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), fc.string({ maxLength: 120 }), (summary, note) => {
        const text = renderCalendar({
          name: 'CRM, activities',
          components: [
            {
              kind: 'event',
              uid: 'e1@activities.crm',
              stamp: '2031-01-01T00:00:00Z',
              start: '2031-01-02T09:00:00Z',
              end: '2031-01-02T10:00:00Z',
              summary,
              description: note,
              location: 'Room; 1, A\\B',
              status: 'CONFIRMED',
              sequence: 3,
            },
            {
              kind: 'todo',
              uid: 't1@activities.crm',
              stamp: '2031-01-01T00:00:00Z',
              due: '2031-01-03T17:30:00Z',
              summary: 'Call back',
              status: 'COMPLETED',
              priority: 1,
              completed: '2031-01-03T10:00:00Z',
            },
          ],
        });
        expect(text.endsWith('\r\n')).toBe(true);
        expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
        const calendar = new ICAL.Component(ICAL.parse(text));
        expect(calendar.getFirstPropertyValue('version')).toBe('2.0');
        const event = new ICAL.Event(calendar.getFirstSubcomponent('vevent')!);
        // Control characters are dropped; everything else survives the round trip.
        const isControl = (c: string) => (c < ' ' && c !== '\t' && c !== '\n') || c === '\u007f';
        const clean = (s: string) => [...s.replace(/\r\n|\r/g, '\n')].filter((c) => !isControl(c)).join('');
        expect(event.summary ?? '').toBe(clean(summary));
        expect(event.description ?? '').toBe(clean(note));
        expect(event.location).toBe('Room; 1, A\\B');
        expect(event.startDate.toJSDate().toISOString()).toBe('2031-01-02T09:00:00.000Z');
        const todo = calendar.getFirstSubcomponent('vtodo')!;
        expect(todo.getFirstPropertyValue('status')).toBe('COMPLETED');
        expect((todo.getFirstPropertyValue('due') as ICAL.Time).toJSDate().toISOString()).toBe(
          '2031-01-03T17:30:00.000Z',
        );
      }),
      { numRuns: 100 },
    );
  });
});
