import { loadSlaContext } from '../sla/service.ts';
import { foldPauses, type SlaPauses } from './sla-clock.ts';

/**
 * A ticket whose pause spans passed the bound, with the oldest folded on its policy's calendar (three GetItems at
 * most, once every few dozen waits on the customer; see sla-clock.ts).
 */
export async function withFoldedPauses<
  T extends {
    tenantId: string;
    createdAt: string;
    slaPolicyId?: string | undefined;
    slaPauses?: SlaPauses | undefined;
  },
>(ticket: T): Promise<T> {
  const context =
    (ticket.slaPolicyId ? await loadSlaContext(ticket.tenantId, ticket.slaPolicyId) : undefined) ??
    (await loadSlaContext(ticket.tenantId));
  return { ...ticket, slaPauses: foldPauses(ticket.slaPauses!, ticket.createdAt, context?.calendarRules) };
}
