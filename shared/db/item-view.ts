/**
 * What of a stored item is the record: keys, ElectroDB's markers and bookkeeping exist only for storage and never
 * reach an API response, an event or a timeline entry.
 */
// searchTerms: a knowledge-base article's index bookkeeping (the tokens it is indexed under).
const STORAGE_ONLY = /^(pk|sk|gsi\d+(pk|sk)|__edb_[ev]__|tenantId|sortName|deletedBy|ttl|searchTerms)$/;

/** Whether an attribute of a stored item exists only for storage (keys, markers, bookkeeping). */
export const isStorageOnly = (attribute: string): boolean => STORAGE_ONLY.test(attribute);

/** A stored item as the API shows it: its id attribute (e.g. `contactId`) as `id`, storage-only attributes left out. */
export function itemView(item: Record<string, unknown>, idField: string): Record<string, unknown> & { id: unknown } {
  const view: Record<string, unknown> & { id: unknown } = { id: item[idField] };
  for (const [key, value] of Object.entries(item)) {
    if (key !== idField && value !== undefined && !STORAGE_ONLY.test(key)) view[key] = value;
  }
  return view;
}
