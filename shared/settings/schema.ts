import * as z from 'zod';
import { Timestamp } from '../api/common-schemas.ts';

/** What a tenant can configure, with the value that applies while it has never been set. */
export const SETTINGS_DEFAULTS = { requireIfMatch: false } as const;

const settingsFields = {
  requireIfMatch: z.boolean().meta({
    description:
      'When true, every update, delete and restore (and this PATCH) must carry If-Match; without it the API ' +
      'answers 428 Precondition Required. Takes effect within 30 seconds.',
  }),
};

/** A JSON merge patch of the settings: null puts a setting back to its default. */
export const SettingsPatch = z
  .strictObject({ requireIfMatch: settingsFields.requireIfMatch.nullable() })
  .partial()
  .meta({ id: 'SettingsPatch' });
export type SettingsPatchInput = z.infer<typeof SettingsPatch>;

export const Settings = z
  .object({
    ...settingsFields,
    version: z
      .number()
      .int()
      .meta({ description: 'Increments on every change; sent as the ETag. 0 while nothing was ever set.' }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    createdBy: z.string().optional(),
    updatedBy: z.string().optional(),
  })
  .meta({ id: 'Settings' });
export type SettingsView = z.infer<typeof Settings>;
