import { ValidationError } from '../errors.ts';

export type Side = 'winner' | 'loser';

/** Fields holding several values: a merge keeps every value of both records (the chosen side's first). */
export const MULTI_VALUED: Record<'contact' | 'company', Record<string, number>> = {
  contact: { emails: 10, phones: 10, tags: 20 },
  company: { domains: 10, tags: 20 },
};

/** Maps merge key by key: the chosen side's keys win, the other side's other keys are kept. */
const KEYED_MAPS = new Set(['customFields']);

const isEmpty = (value: unknown) =>
  value === undefined ||
  value === null ||
  value === '' ||
  (Array.isArray(value) && value.length === 0) ||
  (typeof value === 'object' && !Array.isArray(value) && Object.keys(value as object).length === 0);

/**
 * The merged fields of two records (their editable fields, without id and audit fields):
 * - multi-valued fields (emails, phones, tags, domains): the union, the chosen side's values first (so choosing the
 *   loser for `emails` makes its primary address the primary); more than the field's limit is refused, never cut;
 * - customFields: merged key by key, the chosen side's value winning where both have one;
 * - any other field: the chosen side's value (also when that is empty: an explicit choice is kept as made); unlisted,
 *   the winner's value, or the loser's when the winner's is empty.
 */
export function resolveMerge(
  entity: 'contact' | 'company',
  winner: Record<string, unknown>,
  loser: Record<string, unknown>,
  choices: Partial<Record<string, Side>> = {},
): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  const multi = MULTI_VALUED[entity];
  for (const field of new Set([...Object.keys(winner), ...Object.keys(loser)])) {
    const chosen = choices[field];
    const [first, second] = chosen === 'loser' ? [loser[field], winner[field]] : [winner[field], loser[field]];
    let value: unknown;
    if (field in multi) {
      value = [...new Set([...((first as unknown[]) ?? []), ...((second as unknown[]) ?? [])])];
      if ((value as unknown[]).length > multi[field]!) {
        throw new ValidationError(`The merged ${field} would pass the limit.`, [
          {
            field: `body.fields.${field}`,
            message: `Together the two records have ${(value as unknown[]).length} ${field}, more than ${multi[field]}; remove some from either record first.`,
            code: 'too_big',
          },
        ]);
      }
    } else if (KEYED_MAPS.has(field)) {
      value = { ...((second as object) ?? {}), ...((first as object) ?? {}) };
    } else if (chosen) {
      value = first;
    } else {
      value = isEmpty(first) ? second : first;
    }
    if (!isEmpty(value)) merged[field] = value;
  }
  if (entity === 'contact') keepOptOuts(merged, winner, loser);
  return merged;
}

type Consent = Record<string, unknown> | undefined;
type Subscriptions = Record<string, { status?: string } | undefined> | undefined;

/**
 * Opt-outs survive a merge whichever side is kept: a channel's consent withdrawn on either record stays withdrawn,
 * and a category unsubscribed on either stays unsubscribed, so merging a duplicate never re-subscribes anyone.
 */
function keepOptOuts(merged: Record<string, unknown>, winner: Record<string, unknown>, loser: Record<string, unknown>) {
  const sides = [winner, loser];
  for (const channel of ['email', 'sms', 'phone']) {
    const withdrawn = sides.map((r) => r.consent as Consent).find((c) => c?.[channel] === 'withdrawn');
    if (withdrawn && (merged.consent as Consent)?.[channel] !== 'withdrawn') {
      merged.consent = { ...(merged.consent as object), [channel]: 'withdrawn' };
    }
  }
  for (const side of sides) {
    for (const [category, subscription] of Object.entries((side.subscriptions as Subscriptions) ?? {})) {
      if (subscription?.status !== 'unsubscribed') continue;
      const current = (merged.subscriptions as Subscriptions)?.[category];
      if (current?.status !== 'unsubscribed') {
        merged.subscriptions = { ...(merged.subscriptions as object), [category]: subscription };
      }
    }
  }
}
