import { createActivity } from '../activities/service.ts';
import type { Principal } from '../auth/principal.ts';
import { model } from '../db/store.ts';
import { DomainError, IdempotentReplay } from '../errors.ts';
import { logger } from '../observability.ts';
import type { ExitReason, SequenceStepDefinition } from './schema.ts';
import type { SendOutcome, SequenceMail } from './send.ts';
import { sequenceCampaignId } from './send.ts';
import { exitEnrollment, readEnrollment, readSequence, type StoredEnrollment, type StoredSequence } from './service.ts';
import { durationMs, nextWeekdayTime } from './timing.ts';

/**
 * One turn of an enrolment's workflow (the Step task of infra/constructs/sequences.ts). The state carries ids only;
 * where the enrolment stands (`currentStep`, `waitUntil`) is on the enrolment, re-read every turn and moved on by a
 * write conditioned on its version and `status = active`, so an exit (conditional active → exited) and a step never
 * both win, and a retried or restarted turn picks up exactly where the last write left it. Each step is safe to run
 * twice: a send claims its ledger item first, a task is created under an idempotency key, a branch only reads.
 * A turn runs steps until one waits (then the state machine's Wait state sleeps to `waitUntil`) or the sequence ends.
 */

export interface SequenceRun {
  tenantId: string;
  sequenceId: string;
  contactId: string;
  run: number;
}
export type TurnResult = SequenceRun & ({ done: true } | { done: false; waitUntil: string });

export interface TurnDeps {
  send: (mail: SequenceMail) => Promise<SendOutcome>;
  now?: () => number;
}

/** How often the workflow of a paused sequence looks again. */
export const PAUSED_RECHECK_MS = 60 * 60 * 1000;
/** Steps one turn may run before handing back to the state machine (a Lambda's time is bounded). */
export const STEPS_PER_TURN = 10;

type Move =
  | { kind: 'next'; to: string | undefined }
  | { kind: 'wait'; until: number }
  | { kind: 'exit'; reason: ExitReason };

/** Whether a branch's condition holds: the ledger item of its send step (opened, clicked) or a reply. */
export function branchHolds(
  on: 'opened' | 'clicked' | 'replied',
  facts: { ledger?: { openedAt?: string; clickedAt?: string } | undefined; repliedAt?: string | undefined },
): boolean {
  if (on === 'replied') return facts.repliedAt !== undefined;
  // A click is an open too: images may be blocked while the link was followed.
  if (on === 'opened') return facts.ledger?.openedAt !== undefined || facts.ledger?.clickedAt !== undefined;
  return facts.ledger?.clickedAt !== undefined;
}

/** When a wait step ends, counted from `from` (when the enrolment reached it). */
export function waitEnd(step: SequenceStepDefinition, from: number, sequenceTimeZone?: string): number {
  if (step.type === 'wait') return from + durationMs(step.duration)!;
  if (step.type === 'waitUntil') {
    return nextWeekdayTime(from, step.weekdays, step.time, step.timeZone ?? sequenceTimeZone ?? 'UTC');
  }
  throw new Error(`step ${step.id} is not a wait`);
}

const isConditionalFailure = (error: unknown) =>
  (error as { name?: string }).name === 'ConditionalCheckFailedException' ||
  (error as { cause?: { name?: string } }).cause?.name === 'ConditionalCheckFailedException';

type Contact = { contactId: string; ownerId?: string; emails?: string[]; deletedAt?: string };
const readContact = async (tenantId: string, contactId: string) =>
  (await model.entities.contact.get({ tenantId, contactId }).go({ consistent: true })).data as Contact | null;

async function runStep(
  deps: TurnDeps,
  sequence: StoredSequence,
  enrollment: StoredEnrollment,
  index: number,
  now: number,
): Promise<Move> {
  const step = sequence.steps[index]!;
  const following = sequence.steps[index + 1]?.id;
  const { tenantId, contactId } = enrollment;
  switch (step.type) {
    case 'send': {
      const outcome = await deps.send({
        tenantId,
        sequenceId: sequence.sequenceId,
        stepId: step.id,
        templateId: step.templateId,
        categoryId: sequence.categoryId,
        from: sequence.from,
        replyTo: sequence.replyTo,
        contactId,
        run: enrollment.run,
      });
      logger.info('sequence send', { stepId: step.id, outcome: outcome.status });
      if (outcome.status === 'ineligible') return { kind: 'exit', reason: outcome.reason };
      return { kind: 'next', to: following };
    }
    case 'wait':
    case 'waitUntil': {
      if (enrollment.waitUntil === undefined) {
        return { kind: 'wait', until: waitEnd(step, now, sequence.timeZone) };
      }
      const until = Date.parse(enrollment.waitUntil);
      return until > now ? { kind: 'wait', until } : { kind: 'next', to: following };
    }
    case 'task': {
      const contact = await readContact(tenantId, contactId);
      if (!contact || contact.deletedAt) return { kind: 'exit', reason: 'deleted' };
      // The contact's owner does it; a contact without one falls to whoever made the sequence.
      const assignee = contact.ownerId ?? String(sequence.createdBy ?? '');
      if (!assignee) {
        logger.warn('sequence task without an owner: skipped', { stepId: step.id });
        return { kind: 'next', to: following };
      }
      const principal: Principal = { tenantId, userId: assignee, roles: [] };
      const dueAt =
        step.dueInDays !== undefined ? new Date(now + step.dueInDays * 86_400_000).toISOString() : undefined;
      try {
        await createActivity(
          principal,
          {
            type: 'task',
            title: step.title,
            ownerId: assignee,
            assigneeId: assignee,
            links: [{ type: 'contact', id: contactId }],
            ...(dueAt ? { dueAt } : {}),
          } as Parameters<typeof createActivity>[1],
          {
            key: `sequence:${enrollment.enrollmentId}:${enrollment.run}:${step.id}`,
            requestHash: 'sequence-task',
          },
        );
      } catch (error) {
        // Created by an earlier attempt of this very step.
        if (!(error instanceof IdempotentReplay)) {
          if (!(error instanceof DomainError)) throw error;
          logger.warn('sequence task not created', { stepId: step.id, code: error.code });
        }
      }
      return { kind: 'next', to: following };
    }
    case 'end':
      return { kind: 'next', to: undefined };
    case 'branch': {
      let ledger: { openedAt?: string; clickedAt?: string } | undefined;
      if (step.on !== 'replied') {
        const contact = await readContact(tenantId, contactId);
        const email = contact?.emails?.[0]?.toLowerCase();
        if (email) {
          const campaignId = sequenceCampaignId(sequence.sequenceId, step.sendStep);
          ledger = (
            await model.entities.campaignRecipient.get({ tenantId, campaignId, email }).go({ consistent: true })
          ).data as typeof ledger;
        }
      }
      const holds = branchHolds(step.on, { ledger, repliedAt: enrollment.repliedAt });
      logger.info('sequence branch', { stepId: step.id, on: step.on, holds });
      return { kind: 'next', to: holds ? step.ifTrue : step.ifFalse };
    }
  }
}

/** Moves the enrolment on; false when it changed meanwhile (an exit, a reply): the turn re-reads it. */
async function record(enrollment: StoredEnrollment, move: Move, stepId: string, now: number): Promise<boolean> {
  const at = new Date(now).toISOString();
  const key = { tenantId: enrollment.tenantId, contactId: enrollment.contactId, sequenceId: enrollment.sequenceId };
  if (move.kind === 'exit') return exitEnrollment(key, move.reason, { expectedVersion: enrollment.version });
  const set: Record<string, unknown> =
    move.kind === 'wait'
      ? { currentStep: stepId, waitUntil: new Date(move.until).toISOString() }
      : move.to === undefined
        ? { status: 'completed', completedAt: at }
        : { currentStep: move.to };
  let update = model.entities.sequenceEnrollment
    .patch(key)
    .set({ ...set, updatedAt: at })
    .add({ version: 1, ...(move.kind === 'next' ? { stepsRun: 1 } : {}) });
  if (move.kind === 'next') update = update.remove(['waitUntil']);
  try {
    await update
      .where((attr, op) => `${op.eq(attr.status, 'active')} AND ${op.eq(attr.version, enrollment.version)}`)
      .go();
    return true;
  } catch (error) {
    if (isConditionalFailure(error)) return false;
    throw error;
  }
}

export async function runTurn(deps: TurnDeps, state: SequenceRun): Promise<TurnResult> {
  const now = () => deps.now?.() ?? Date.now();
  const done = { ...state, done: true } as const;
  for (let turn = 0; turn < STEPS_PER_TURN; turn++) {
    const enrollment = await readEnrollment(state.tenantId, state.sequenceId, state.contactId);
    if (!enrollment || enrollment.run !== state.run || enrollment.status !== 'active') return done;
    const sequence = await readSequence(state.tenantId, state.sequenceId);
    if (!sequence || sequence.deletedAt || sequence.status === 'archived') {
      const key = { tenantId: state.tenantId, sequenceId: state.sequenceId, contactId: state.contactId };
      await exitEnrollment(key, 'archived', { expectedVersion: enrollment.version });
      continue;
    }
    if (sequence.status === 'paused') {
      return { ...state, done: false, waitUntil: new Date(now() + PAUSED_RECHECK_MS).toISOString() };
    }
    const index = enrollment.currentStep ? sequence.steps.findIndex((s) => s.id === enrollment.currentStep) : 0;
    // A step removed while paused: nothing left to stand on, the enrolment completes.
    const stepId = sequence.steps[index]?.id;
    const move: Move =
      index < 0 || stepId === undefined
        ? { kind: 'next', to: undefined }
        : await runStep(deps, sequence, enrollment, index, now());
    if (move.kind === 'wait' && enrollment.waitUntil === new Date(move.until).toISOString()) {
      return { ...state, done: false, waitUntil: enrollment.waitUntil }; // woken early: the same wait goes on
    }
    const recorded = await record(enrollment, move, stepId ?? '', now());
    if (!recorded) continue;
    if (move.kind === 'wait') return { ...state, done: false, waitUntil: new Date(move.until).toISOString() };
    if (move.kind === 'exit' || move.to === undefined) return done;
  }
  // Hand back to the state machine and come straight back: each turn's time stays bounded.
  return { ...state, done: false, waitUntil: new Date(now()).toISOString() };
}
