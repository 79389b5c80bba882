import { randomUUID } from 'node:crypto';

/** A valid contact create body; override any field. */
export function makeContact(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const n = randomUUID().slice(0, 6);
  return {
    firstName: 'Ada',
    lastName: `Lovelace-${n}`,
    emails: [`ada.${n}@example.com`],
    phones: ['+44 20 7946 0018'],
    jobTitle: 'Analyst',
    lifecycleStage: 'lead',
    tags: ['VIP', 'math'],
    address: { city: 'London', country: 'gb' },
    consent: { email: 'granted' },
    ...overrides,
  };
}

export function makeCompany(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const n = randomUUID().slice(0, 6);
  return {
    name: `Analytical Engines ${n}`,
    domains: [`engines-${n}.example`],
    industry: 'Computing',
    size: '11-50',
    tags: ['partner'],
    address: { city: 'London', country: 'GB' },
    ...overrides,
  };
}

export const uniqueTenant = (prefix = 't') => `${prefix}-${randomUUID().slice(0, 8)}`;

/** A valid note create body; override any field. */
export function makeNote(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { body: `Called about the renewal (${randomUUID().slice(0, 6)}).`, ...overrides };
}

/** A valid user invite body; override any field. */
export function makeUser(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const n = randomUUID().slice(0, 8);
  return {
    email: `user.${n}@example.com`,
    name: `Grace Hopper ${n}`,
    roles: ['sales'],
    timeZone: 'Europe/Paris',
    workingHours: [{ day: 1, start: '09:00', end: '17:30' }],
    ...overrides,
  };
}
