import * as z from 'zod';
import { Audit, Id, PageQuery, Timestamp, trashAndSyncFilters } from '../api/common-schemas.ts';
import { STAGE_KINDS } from '../pipelines/schema.ts';
import { CurrencyCode, MinorUnits } from '../products/schema.ts';

/**
 * Each contact of a deal takes three items of the deal's transaction (DynamoDB allows 100): the reference check, the
 * `deal.contact` lookup and the timeline link (a fourth, `deal.purchase`, once won).
 */
export const MAX_DEAL_CONTACTS = 20;
export const MAX_LINE_ITEMS = 50;
export const MAX_QUANTITY = 1_000_000;

const Discount = z
  .union([
    z.strictObject({
      percentBasisPoints: z
        .number()
        .int()
        .min(0)
        .max(10_000)
        .meta({ description: 'Percent in basis points: 1250 = 12.5 %. Rounded half to even at the minor unit.' }),
    }),
    z.strictObject({ amount: MinorUnits.meta({ description: 'Amount off the line, in minor units.' }) }),
  ])
  .meta({ id: 'Discount' });

export const LineItemInput = z
  .strictObject({
    productId: Id.optional().meta({
      description: "A catalogue product: its name, SKU and (by default) its price in the deal's currency are copied.",
    }),
    name: z.string().trim().min(1).max(200).optional().meta({ description: 'Required without a productId.' }),
    quantity: z.number().int().min(1).max(MAX_QUANTITY),
    unitPrice: MinorUnits.optional().meta({
      description: "Minor units; defaults to the product's price in the deal's currency.",
    }),
    discount: Discount.optional(),
  })
  .meta({ id: 'LineItemInput' });

export const LineItem = z
  .object({
    productId: z.string().optional(),
    sku: z.string().optional(),
    name: z.string(),
    quantity: z.number().int(),
    unitPrice: z.number().int(),
    discount: Discount.optional(),
    discountAmount: z.number().int().meta({ description: 'What the discount takes off, in minor units.' }),
    lineTotal: z.number().int().meta({ description: 'quantity x unitPrice - discountAmount, in minor units.' }),
  })
  .meta({ id: 'LineItem' });
export type LineItemView = z.infer<typeof LineItem>;

const LineItems = z.array(LineItemInput).max(MAX_LINE_ITEMS, `At most ${MAX_LINE_ITEMS} line items.`);
const ContactIds = z
  .array(Id)
  .max(MAX_DEAL_CONTACTS, `At most ${MAX_DEAL_CONTACTS} contacts.`)
  .transform((ids) => [...new Set(ids)]);
const CloseDate = z.iso.date().meta({ description: 'Expected close date (YYYY-MM-DD).' });

const dealFields = {
  name: z.string().trim().min(1).max(200),
  amount: MinorUnits.meta({ description: 'Minor units. Computed from the line items when there are any.' }),
  currency: CurrencyCode,
  expectedCloseDate: CloseDate,
  ownerId: Id,
  contactIds: ContactIds,
  companyId: Id,
  lineItems: LineItems,
};

export const DealCreate = z
  .strictObject({
    ...dealFields,
    pipelineId: Id.optional().meta({ description: 'Defaults to the default pipeline.' }),
    stageId: Id.optional().meta({ description: "Defaults to the pipeline's first stage." }),
    lostReason: z
      .string()
      .trim()
      .min(1)
      .max(500)
      .optional()
      .meta({ description: 'Required when stageId is a lost stage.' }),
  })
  .partial({ amount: true, expectedCloseDate: true, ownerId: true, contactIds: true, companyId: true, lineItems: true })
  .meta({
    id: 'DealCreate',
    description:
      'A new deal. Give an amount, or line items (the amount is then their exact sum). ownerId defaults to you.',
  });

export const DealPatch = z
  .strictObject({
    name: dealFields.name,
    amount: dealFields.amount,
    currency: dealFields.currency,
    expectedCloseDate: CloseDate.nullable(),
    ownerId: dealFields.ownerId,
    contactIds: ContactIds.nullable(),
    companyId: Id.nullable(),
    lineItems: LineItems.nullable(),
  })
  .partial()
  .meta({
    id: 'DealPatch',
    description: 'JSON merge patch (null clears). The stage changes through POST /v1/deals/{dealId}/stage.',
  });

export const DealStageMove = z
  .strictObject({
    stageId: Id,
    pipelineId: Id.optional().meta({ description: 'To move into another pipeline; defaults to the current one.' }),
    lostReason: z.string().trim().min(1).max(500).optional().meta({ description: 'Required for a lost stage.' }),
  })
  .meta({ id: 'DealStageMove' });

export const Deal = z
  .object({
    id: z.string(),
    name: z.string(),
    amount: z.number().int(),
    amountDecimal: z.string().meta({ description: 'The amount in major units as a decimal string, e.g. "1234.56".' }),
    currency: z.string(),
    expectedCloseDate: z.string().optional(),
    pipelineId: z.string(),
    stageId: z.string(),
    status: z.enum(STAGE_KINDS).meta({ description: "The stage's kind: open, won or lost." }),
    probability: z.number().int().meta({ description: "The stage's win probability when the deal entered it." }),
    stageEnteredAt: Timestamp,
    closedAt: Timestamp.optional(),
    lostReason: z.string().optional(),
    ownerId: z.string(),
    assignedByRule: z
      .string()
      .optional()
      .meta({ description: 'Set when an assignment rule chose the owner at creation: that rule’s id.' }),
    contactIds: z.array(z.string()),
    companyId: z.string().optional(),
    lineItems: z.array(LineItem),
    ...Audit,
  })
  .meta({ id: 'Deal' });
export type DealView = z.infer<typeof Deal>;

/** What lists by contact and purchase histories return (lookup items carry it): the deal's key fields. */
export const DealSummary = z
  .object({
    id: z.string(),
    name: z.string(),
    amount: z.number().int(),
    currency: z.string(),
    status: z.enum(STAGE_KINDS),
    pipelineId: z.string(),
    ownerId: z.string(),
    companyId: z.string().optional(),
    expectedCloseDate: z.string().optional(),
    closedAt: z.string().optional(),
    lineItems: z.array(LineItem),
  })
  .meta({ id: 'DealSummary', description: 'A deal in a list by contact: its key fields. GET the deal for the rest.' });
export type DealSummaryView = z.infer<typeof DealSummary>;

export const DealListItem = z.union([Deal, DealSummary]);

export const StageChange = z
  .object({
    id: z.string(),
    pipelineId: z.string(),
    fromPipelineId: z.string().optional(),
    fromStageId: z.string().optional().meta({ description: 'Absent for the first stage.' }),
    fromStageName: z.string().optional(),
    toStageId: z.string(),
    toStageName: z.string(),
    status: z.enum(STAGE_KINDS),
    occurredAt: Timestamp,
    changedBy: z.string(),
    msInPreviousStage: z.number().int().optional(),
    lostReason: z.string().optional(),
  })
  .meta({ id: 'StageChange' });
export type StageChangeView = z.infer<typeof StageChange>;

export const Purchase = z
  .object({
    dealId: z.string(),
    dealName: z.string(),
    currency: z.string(),
    amount: z.number().int(),
    closedAt: z.string(),
    companyId: z.string().optional(),
    lineItems: z.array(LineItem),
  })
  .meta({ id: 'Purchase', description: 'A won deal and what was bought.' });
export type PurchaseView = z.infer<typeof Purchase>;

export const BoardStage = z
  .object({
    stage: z.object({ id: z.string(), name: z.string(), probability: z.number(), kind: z.enum(STAGE_KINDS) }),
    deals: z.array(Deal),
    nextCursor: z.string().nullable().meta({
      description: 'Pass as `cursor` to GET /v1/pipelines/{pipelineId}/stages/{stageId}/deals; null at the end.',
    }),
  })
  .meta({ id: 'BoardStage' });

export const Board = z
  .object({ pipelineId: z.string(), name: z.string(), stages: z.array(BoardStage) })
  .meta({ id: 'Board', description: 'Each stage with its first page of deals, soonest expected close first.' });

export const DealIdParams = z.object({ dealId: Id });
export const ContactPurchaseParams = z.object({ contactId: Id });
export const CompanyPurchaseParams = z.object({ companyId: Id });

export const DealListQuery = z
  .strictObject({
    ...PageQuery,
    ownerId: Id.optional(),
    companyId: Id.optional(),
    contactId: Id.optional().meta({ description: 'Deals of a contact (DealSummary items).' }),
    q: z.string().trim().min(1).max(100).optional().meta({ description: 'Name prefix.' }),
    ...trashAndSyncFilters('deals'),
  })
  .meta({ id: 'DealListQuery' });
export type DealListFilters = z.output<typeof DealListQuery>;

export const BoardQuery = z
  .strictObject({
    limit: z.coerce.number().int().min(1).max(50).default(10).meta({ description: 'Deals per stage (1-50).' }),
  })
  .meta({ id: 'BoardQuery' });

export type DealCreateInput = z.output<typeof DealCreate>;
export type DealPatchInput = z.output<typeof DealPatch>;
export type DealStageMoveInput = z.output<typeof DealStageMove>;
export type LineItemInputValue = z.output<typeof LineItemInput>;
