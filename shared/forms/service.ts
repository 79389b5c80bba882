import { ulid } from 'ulid';
import type { Principal } from '../auth/principal.ts';
import { trashedVersion } from '../db/documents.ts';
import { itemView } from '../db/item-view.ts';
import { formIndex, sortableName } from '../db/keys.ts';
import { model, versionCondition, writeRecord } from '../db/store.ts';
import { NotFoundError, PreconditionFailedError } from '../errors.ts';
import type { ApiRequest, VersionPrecondition } from '../http/request.ts';
import { type Page, type PageRequest, queryIndex } from '../records/lists.ts';
import { mergePatch } from '../records/merge-patch.ts';
import type { FormCreateInput, FormPatchInput, FormView } from './schema.ts';

type StoredForm = Record<string, unknown> & { tenantId: string; formId: string; version: number; deletedAt?: string };

export const publicKeyOf = (tenantId: string, formId: string) => `${tenantId}.${formId}`;

function formKeys(form: StoredForm) {
  const live = !form.deletedAt;
  return {
    gsi4pk: live ? formIndex.name(form.tenantId) : formIndex.trash(form.tenantId),
    gsi4sk: live ? `${form.sortName}#${form.formId}` : `${form.deletedAt}#${form.formId}`,
  };
}

export function formView(stored: Record<string, unknown>): FormView {
  const view = itemView(stored, 'formId');
  return { ...view, publicKey: publicKeyOf(String(stored.tenantId), String(stored.formId)) } as unknown as FormView;
}

/** One GetItem under the tenant's key. */
export async function readForm(tenantId: string, formId: string): Promise<StoredForm | undefined> {
  const { data } = await model.entities.form.get({ tenantId, formId }).go();
  return (data as StoredForm | null) ?? undefined;
}

async function liveForm(tenantId: string, formId: string): Promise<StoredForm> {
  const form = await readForm(tenantId, formId);
  if (!form || form.deletedAt) throw new NotFoundError('form', formId);
  return form;
}

async function save(
  p: Principal,
  next: StoredForm,
  previous: StoredForm | undefined,
  idempotency?: ApiRequest['idempotency'],
  statusCode = 200,
): Promise<FormView> {
  const view = formView(next);
  await writeRecord({
    entity: 'form',
    item: { ...next, ...formKeys(next) },
    ...versionCondition('form', next.formId, previous),
    ...(idempotency ? { idempotency: { tenantId: p.tenantId, ...idempotency, statusCode, response: view } } : {}),
  });
  return view;
}

export async function createForm(p: Principal, input: FormCreateInput, idempotency?: ApiRequest['idempotency']) {
  const now = new Date().toISOString();
  const stored: StoredForm = {
    ...(mergePatch({}, input) as Record<string, unknown>),
    tenantId: p.tenantId,
    formId: ulid(),
    sortName: sortableName(input.name),
    version: 1,
    createdAt: now,
    updatedAt: now,
    createdBy: p.userId,
    updatedBy: p.userId,
  };
  return save(p, stored, undefined, idempotency, 201);
}

export async function getForm(p: Principal, formId: string): Promise<FormView> {
  return formView(await liveForm(p.tenantId, formId));
}

export async function patchForm(p: Principal, formId: string, patch: FormPatchInput, ifMatch?: VersionPrecondition) {
  const previous = await liveForm(p.tenantId, formId);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('form', formId);
  const { id: _id, publicKey: _key, version: _v, ...editable } = formView(previous);
  const merged = mergePatch(editable as Record<string, unknown>, patch);
  const next: StoredForm = {
    ...merged,
    tenantId: p.tenantId,
    formId,
    sortName: sortableName(String(merged.name)),
    version: previous.version + 1,
    createdAt: previous.createdAt,
    updatedAt: new Date().toISOString(),
    updatedBy: p.userId,
  };
  return save(p, next, previous);
}

/** Soft delete: the public endpoint answers 404 for it from then on. */
export async function deleteForm(p: Principal, formId: string, ifMatch?: VersionPrecondition): Promise<void> {
  const previous = await liveForm(p.tenantId, formId);
  if (ifMatch && !ifMatch.matches(previous.version)) throw new PreconditionFailedError('form', formId);
  await save(p, trashedVersion(previous, p.userId), previous);
}

/** Forms by name: one Query on gsi4. */
export async function listForms(p: Principal, page: PageRequest): Promise<Page<FormView>> {
  const result = await queryIndex<Record<string, unknown>>('form', 'gsi4', formIndex.name(p.tenantId), page);
  return { items: result.items.map(formView), nextCursor: result.nextCursor };
}
