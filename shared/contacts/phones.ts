import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js';
import { ValidationError } from '../errors.ts';

/** Phone numbers: the only code that needs libphonenumber's metadata, kept apart so other functions don't carry it. */

/** Normalises to E.164; a national number needs the contact's country. Throws field errors naming each bad entry. */
export function normalizePhones(phones: string[] | undefined, country: string | undefined): string[] | undefined {
  if (!phones) return undefined;
  const errors: Array<{ field: string; message: string }> = [];
  const normalized = phones.map((raw, i) => {
    const parsed = parsePhoneNumberFromString(raw, country as CountryCode | undefined);
    if (!parsed?.isValid()) {
      errors.push({
        field: `body.phones.${i}`,
        message: country
          ? `Not a valid phone number for ${country} or in international format.`
          : 'Not a valid phone number; use international format (+49 30 1234567) or set address.country.',
      });
      return raw;
    }
    return parsed.number;
  });
  if (errors.length > 0) throw new ValidationError('Some phone numbers are invalid.', errors);
  return [...new Set(normalized)];
}

export function normalizePhoneQuery(phone: string): string {
  const parsed = parsePhoneNumberFromString(phone);
  if (!parsed?.isValid()) {
    throw new ValidationError('Invalid phone filter.', [
      { field: 'query.phone', message: 'Use international format, e.g. +4930123456.' },
    ]);
  }
  return parsed.number;
}
