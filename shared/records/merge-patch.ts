/** JSON merge patch (RFC 7396): null deletes, objects merge recursively, everything else replaces. */
export function mergePatch<T extends Record<string, unknown>>(target: T, patch: Record<string, unknown>): T {
  const result: Record<string, unknown> = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (value === null) {
      delete result[key];
    } else if (isPlainObject(value) && isPlainObject(result[key])) {
      const merged = mergePatch(result[key] as Record<string, unknown>, value);
      if (Object.keys(merged).length === 0) delete result[key];
      else result[key] = merged;
    } else if (isPlainObject(value)) {
      const merged = mergePatch({}, value);
      if (Object.keys(merged).length > 0) result[key] = merged;
    } else {
      result[key] = value;
    }
  }
  return result as T;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Fields whose values differ (deep), for change sets. */
export function changedFields(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}
