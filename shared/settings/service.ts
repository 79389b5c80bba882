import type { Principal } from '../auth/principal.ts';
import { replaceDocument } from '../db/documents.ts';
import { model } from '../db/store.ts';
import { PreconditionFailedError } from '../errors.ts';
import type { VersionPrecondition } from '../http/request.ts';
import { SETTINGS_DEFAULTS, type SettingsPatchInput, type SettingsView } from './schema.ts';

/**
 * Settings are read on the request path (is If-Match required?), so each container keeps them for a short while:
 * a change applies at once in the container that made it and within CACHE_MS everywhere else (README, "Settings").
 */
export const SETTINGS_CACHE_MS = 30_000;
/** Bounds the cache: the oldest entries go first when this many tenants are cached. */
const CACHE_MAX_TENANTS = 1_000;
const cache = new Map<string, { settings: SettingsView; expires: number }>();

function remember(tenantId: string, settings: SettingsView): void {
  cache.delete(tenantId);
  if (cache.size >= CACHE_MAX_TENANTS) cache.delete(cache.keys().next().value!);
  cache.set(tenantId, { settings, expires: Date.now() + SETTINGS_CACHE_MS });
}

function defaults(): SettingsView {
  const epoch = new Date(0).toISOString();
  return { ...SETTINGS_DEFAULTS, version: 0, createdAt: epoch, updatedAt: epoch };
}

/** The tenant's settings (defaults, version 0, when never set): one GetItem. */
export async function getSettings(tenantId: string): Promise<SettingsView> {
  const { data } = await model.entities.tenantSettings.get({ tenantId }).go();
  const settings: SettingsView = data ? viewOf(data) : defaults();
  remember(tenantId, settings);
  return settings;
}

/** The settings as this container last saw them, at most SETTINGS_CACHE_MS old. */
export async function cachedSettings(tenantId: string): Promise<SettingsView> {
  const cached = cache.get(tenantId);
  if (cached && cached.expires > Date.now()) return cached.settings;
  return getSettings(tenantId);
}

/** Applies a JSON merge patch (null restores a default), conditioned on the version read. */
export async function patchSettings(
  principal: Principal,
  patch: SettingsPatchInput,
  ifMatch: VersionPrecondition | undefined,
): Promise<SettingsView> {
  const { tenantId } = principal;
  const current = await getSettings(tenantId);
  if (ifMatch && !ifMatch.matches(current.version)) throw new PreconditionFailedError('settings', tenantId);
  const configurable = Object.keys(SETTINGS_DEFAULTS) as Array<keyof typeof SETTINGS_DEFAULTS>;
  const values = Object.fromEntries(
    configurable.map((name) => [
      name,
      patch[name] === undefined ? current[name] : (patch[name] ?? SETTINGS_DEFAULTS[name]),
    ]),
  ) as Pick<SettingsView, keyof typeof SETTINGS_DEFAULTS>;
  // A patch that changes nothing keeps the version (and writes nothing), as for records.
  if (configurable.every((name) => values[name] === current[name])) return current;
  const next = await replaceDocument({
    entity: 'tenantSettings',
    tenantId,
    current,
    values,
    actorId: principal.userId,
    conflict: () => new PreconditionFailedError('settings', tenantId),
  });
  remember(tenantId, next);
  return next;
}

function viewOf(item: Record<string, unknown>): SettingsView {
  const { tenantId: _tenant, ...view } = item;
  return { ...SETTINGS_DEFAULTS, ...view } as SettingsView;
}
