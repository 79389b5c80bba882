import { ValidationError } from '../errors.ts';

const MAX_PARTS = 200;

const invalid = (message: string) =>
  new ValidationError('The multipart form is invalid.', [{ field: 'body', message }]);

/** A parameter of a header value (`boundary=...`, `name="..."`), quoted or not. */
function parameter(headerValue: string, name: string): string | undefined {
  const match = new RegExp(`(?:^|;)\\s*${name}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]+))`, 'i').exec(headerValue);
  if (!match) return undefined;
  return match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2];
}

/**
 * The text fields of a `multipart/form-data` body (RFC 7578), as an HTML form's fields: strings, a repeated name a
 * list of them. Only what a form of text inputs sends: a part with a filename is refused, as is anything malformed.
 * Line breaks may be CRLF (the standard) or bare LF (what some senders write).
 */
export function parseMultipartForm(contentType: string, body: string): Record<string, string | string[]> {
  const boundary = parameter(contentType, 'boundary');
  if (!boundary || boundary.length > 70) throw invalid('The Content-Type names no valid boundary.');
  const delimiter = `--${boundary}`;
  const chunks = body.split(delimiter);
  // chunks[0] is the preamble; the last chunk starts with "--" (the close delimiter).
  if (chunks.length < 2 || !chunks.at(-1)!.startsWith('--')) throw invalid('The body does not end its last part.');
  const parts = chunks.slice(1, -1);
  if (parts.length > MAX_PARTS) throw invalid(`At most ${MAX_PARTS} fields.`);
  const fields: Record<string, string | string[]> = Object.create(null);
  for (const raw of parts) {
    const part = raw.replace(/^\r?\n/, '').replace(/\r?\n$/, '');
    const split = /\r?\n\r?\n/.exec(part);
    if (!split) throw invalid('A part has no blank line after its headers.');
    const headers = part.slice(0, split.index).split(/\r?\n/);
    const value = part.slice(split.index + split[0].length);
    const disposition = headers.find((h) => /^content-disposition\s*:/i.test(h));
    if (!disposition || !/:\s*form-data\b/i.test(disposition)) throw invalid('A part is not form-data.');
    if (parameter(disposition.slice(disposition.indexOf(':') + 1), 'filename') !== undefined) {
      throw invalid('Files are not accepted.');
    }
    const name = parameter(disposition.slice(disposition.indexOf(':') + 1), 'name');
    if (name === undefined) throw invalid('A part has no name.');
    const before = fields[name];
    fields[name] = before === undefined ? value : Array.isArray(before) ? [...before, value] : [before, value];
  }
  return { ...fields };
}
