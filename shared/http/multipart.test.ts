import { describe, expect, it } from 'vitest';
import { parseMultipartForm } from './multipart.ts';

const CT = 'multipart/form-data; boundary=----x42';

describe('parseMultipartForm', () => {
  it('reads text fields (CRLF as sent by browsers and mail providers), repeated names as lists', () => {
    const body =
      '------x42\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n' +
      '------x42\r\nContent-Disposition: form-data; name="categories"\r\n\r\na\r\n' +
      '------x42\r\ncontent-disposition: form-data; name=categories\r\nContent-Type: text/plain\r\n\r\nb\r\n' +
      '------x42--\r\n';
    expect(parseMultipartForm(CT, body)).toEqual({ 'List-Unsubscribe': 'One-Click', categories: ['a', 'b'] });
  });

  it('accepts bare LF, a quoted boundary, a preamble and an empty value', () => {
    const body = 'preamble\n--b\nContent-Disposition: form-data; name="x"\n\n\n--b--';
    expect(parseMultipartForm('multipart/form-data; boundary="b"', body)).toEqual({ x: '' });
  });

  it('refuses files, parts without a name, unterminated bodies and a missing boundary', () => {
    const file = '--b\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n\r\nhi\r\n--b--';
    const unnamed = '--b\r\nContent-Disposition: form-data\r\n\r\nhi\r\n--b--';
    const open = '--b\r\nContent-Disposition: form-data; name="x"\r\n\r\nhi\r\n';
    const noBlank = '--b\r\nContent-Disposition: form-data; name="x"\r\n--b--';
    const ct = 'multipart/form-data; boundary=b';
    for (const body of [file, unnamed, open, noBlank]) {
      expect(() => parseMultipartForm(ct, body), body).toThrow(/multipart form is invalid/);
    }
    expect(() => parseMultipartForm('multipart/form-data', '--b--')).toThrow(/multipart form is invalid/);
  });
});
