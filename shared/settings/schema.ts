import * as z from 'zod';
import { Timestamp } from '../api/common-schemas.ts';

/** What a tenant can configure, with the value that applies while it has never been set. */
export const SETTINGS_DEFAULTS = {
  requireIfMatch: false,
  // `allow` is how the API behaved before duplicate policies existed: a default of `block` would start refusing
  // creates that clients (imports, shared family or role addresses) rely on today. A tenant opts in.
  contactDuplicates: 'allow',
  companyDuplicates: 'allow',
} as const;

export const DUPLICATE_POLICIES = ['allow', 'warn', 'block'] as const;
export type DuplicatePolicy = (typeof DUPLICATE_POLICIES)[number];
const DuplicatePolicySchema = z.enum(DUPLICATE_POLICIES);

const settingsFields = {
  requireIfMatch: z.boolean().meta({
    description:
      'When true, every update, delete and restore (and this PATCH) must carry If-Match; without it the API ' +
      'answers 428 Precondition Required. Takes effect within 30 seconds.',
  }),
  contactDuplicates: DuplicatePolicySchema.meta({
    description:
      'What a contact create, patch or restore does when another live contact has one of its email addresses or ' +
      'phone numbers: `allow` (the default, as before), `warn` (written, and the response lists the candidates in ' +
      '`duplicates`) or `block` (409 `contact.duplicate` naming the existing contact; enforced under concurrency). ' +
      'Takes effect within 30 seconds.',
  }),
  companyDuplicates: DuplicatePolicySchema.meta({
    description: 'The same for companies and their domains (409 `company.duplicate`). Takes effect within 30 seconds.',
  }),
};

/** A JSON merge patch of the settings: null puts a setting back to its default. */
export const SettingsPatch = z
  .strictObject({
    requireIfMatch: settingsFields.requireIfMatch.nullable(),
    contactDuplicates: settingsFields.contactDuplicates.nullable(),
    companyDuplicates: settingsFields.companyDuplicates.nullable(),
  })
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
