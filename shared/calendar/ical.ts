/**
 * iCalendar (RFC 5545) text: just what a read-only feed of meetings (VEVENT) and tasks (VTODO) needs. Lines end in
 * CRLF and are folded at 75 octets (never inside a UTF-8 sequence); TEXT values escape `\`, `;`, `,` and newlines.
 */

export interface CalendarEvent {
  kind: 'event';
  uid: string;
  stamp: string;
  start: string;
  end: string;
  summary: string;
  description?: string;
  location?: string;
  status: 'CONFIRMED' | 'CANCELLED' | 'TENTATIVE';
  sequence?: number;
  lastModified?: string;
}

export interface CalendarTodo {
  kind: 'todo';
  uid: string;
  stamp: string;
  due: string;
  summary: string;
  description?: string;
  status: 'NEEDS-ACTION' | 'COMPLETED' | 'CANCELLED';
  /** 1 (highest) to 9 (lowest). */
  priority?: number;
  completed?: string;
  sequence?: number;
  lastModified?: string;
}

export type CalendarComponent = CalendarEvent | CalendarTodo;

const CRLF = '\r\n';
const MAX_LINE_OCTETS = 75;

/** TEXT escaping (RFC 5545 §3.3.11); control characters other than newlines are not allowed in TEXT and dropped. */
export function escapeText(value: string): string {
  return value
    .replace(/\\/g, '\\\\')
    .replace(/;/g, '\\;')
    .replace(/,/g, '\\,')
    .replace(/\r\n|\r|\n/g, '\\n')
    .split('')
    .filter((char) => !isControl(char))
    .join('');
}

/** CONTROL in RFC 5545's grammar: every C0 character but HTAB, and DEL. */
function isControl(char: string): boolean {
  const code = char.charCodeAt(0);
  return (code < 0x20 && code !== 0x09) || code === 0x7f;
}

/** UTC DATE-TIME form: 20261130T091500Z. */
export function formatUtc(iso: string): string {
  return `${new Date(iso).toISOString().replace(/[-:]/g, '').slice(0, 15)}Z`;
}

/**
 * Folds a content line (§3.1): at most 75 octets per line, continuation lines start with one space. Code points are
 * never split, so multi-byte characters stay intact.
 */
export function foldLine(line: string): string {
  const out: string[] = [];
  let current = '';
  let octets = 0;
  for (const char of line) {
    const size = Buffer.byteLength(char, 'utf8');
    if (octets + size > MAX_LINE_OCTETS) {
      out.push(current);
      current = ` ${char}`;
      octets = 1 + size;
    } else {
      current += char;
      octets += size;
    }
  }
  out.push(current);
  return out.join(CRLF);
}

const text = (name: string, value: string | undefined) => (value === undefined ? [] : [`${name}:${escapeText(value)}`]);

function componentLines(c: CalendarComponent): string[] {
  const common = [
    `UID:${escapeText(c.uid)}`,
    `DTSTAMP:${formatUtc(c.stamp)}`,
    ...(c.lastModified ? [`LAST-MODIFIED:${formatUtc(c.lastModified)}`] : []),
    ...(c.sequence !== undefined ? [`SEQUENCE:${c.sequence}`] : []),
  ];
  if (c.kind === 'event') {
    return [
      'BEGIN:VEVENT',
      ...common,
      `DTSTART:${formatUtc(c.start)}`,
      `DTEND:${formatUtc(c.end)}`,
      ...text('SUMMARY', c.summary),
      ...text('DESCRIPTION', c.description),
      ...text('LOCATION', c.location),
      `STATUS:${c.status}`,
      'END:VEVENT',
    ];
  }
  return [
    'BEGIN:VTODO',
    ...common,
    `DUE:${formatUtc(c.due)}`,
    ...text('SUMMARY', c.summary),
    ...text('DESCRIPTION', c.description),
    `STATUS:${c.status}`,
    ...(c.priority !== undefined ? [`PRIORITY:${c.priority}`] : []),
    ...(c.completed ? [`COMPLETED:${formatUtc(c.completed)}`] : []),
    'END:VTODO',
  ];
}

/** A whole VCALENDAR object, CRLF-terminated. */
export function renderCalendar(options: { name: string; components: CalendarComponent[] }): string {
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//serverless-crm//activities//EN',
    'CALSCALE:GREGORIAN',
    'METHOD:PUBLISH',
    ...text('X-WR-CALNAME', options.name),
    ...options.components.flatMap(componentLines),
    'END:VCALENDAR',
  ];
  return lines.map(foldLine).join(CRLF) + CRLF;
}
