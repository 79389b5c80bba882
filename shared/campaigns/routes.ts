import { pageOf } from '../api/common-schemas.ts';
import { defineRoutes } from '../api/route.ts';
import {
  Campaign,
  CampaignCreate,
  CampaignIdParams,
  CampaignListItem,
  CampaignListQuery,
  CampaignPatch,
  CampaignRecipient,
  CampaignRecipientsQuery,
  CampaignSchedule,
} from './schema.ts';

/** A state change of one campaign: POST /v1/campaigns/{campaignId}/<verb>, answering the campaign as it is now. */
function action<const O extends string, const V extends string, const X extends object = Record<never, never>>(
  operationId: O,
  verb: V,
  summary: string,
  description: string,
  extra?: X,
) {
  return {
    operationId,
    method: 'POST',
    path: `/v1/campaigns/{campaignId}/${verb}` as `/v1/campaigns/{campaignId}/${V}`,
    group: 'campaigns',
    permission: 'campaigns:send',
    tag: 'Campaigns',
    summary,
    description,
    params: CampaignIdParams,
    response: { status: 200, schema: Campaign, description: 'The campaign as it is now.' },
    conditional: true,
    ...(extra as X),
  } as const;
}

export const campaignsRoutes = defineRoutes([
  {
    operationId: 'createCampaign',
    method: 'POST',
    path: '/v1/campaigns',
    group: 'campaigns',
    permission: 'campaigns:write',
    tag: 'Campaigns',
    summary: 'Create a draft campaign',
    description:
      'Audience (segments and lists, with exclusions), template, subscription category and sender. The sender ' +
      'must be within the service’s mail domain (400 `campaign.sender_domain`). Nothing is sent until scheduled.',
    body: CampaignCreate,
    response: { status: 201, schema: Campaign, description: 'The new draft.' },
    idempotent: true,
  },
  {
    operationId: 'listCampaigns',
    method: 'GET',
    path: '/v1/campaigns',
    group: 'campaigns',
    permission: 'campaigns:read',
    tag: 'Campaigns',
    summary: 'List campaigns by name, by status, or the trash',
    description: 'One filter at a time: status, q (name prefix) or inTrash.',
    query: CampaignListQuery,
    response: { status: 200, schema: pageOf(CampaignListItem), description: 'A page of campaigns (without stats).' },
  },
  {
    operationId: 'getCampaign',
    method: 'GET',
    path: '/v1/campaigns/{campaignId}',
    group: 'campaigns',
    permission: 'campaigns:read',
    tag: 'Campaigns',
    summary: 'Get a campaign with its counters',
    params: CampaignIdParams,
    response: { status: 200, schema: Campaign, description: 'The campaign, with its version as ETag.' },
  },
  {
    operationId: 'patchCampaign',
    method: 'PATCH',
    path: '/v1/campaigns/{campaignId}',
    group: 'campaigns',
    permission: 'campaigns:write',
    tag: 'Campaigns',
    summary: 'Change a draft or scheduled campaign',
    description:
      'Only before the send starts (409 `campaign.invalid_status` otherwise). A scheduled campaign is checked again ' +
      'as changed (400 `campaign.not_sendable`) and keeps its schedule.',
    params: CampaignIdParams,
    body: CampaignPatch,
    response: { status: 200, schema: Campaign, description: 'The updated campaign.' },
    conditional: true,
  },
  {
    operationId: 'deleteCampaign',
    method: 'DELETE',
    path: '/v1/campaigns/{campaignId}',
    group: 'campaigns',
    permission: 'campaigns:write',
    tag: 'Campaigns',
    summary: 'Move a campaign to the trash',
    description: 'A scheduled campaign is unscheduled. Not while sending or paused (cancel it first).',
    params: CampaignIdParams,
    response: { status: 204, description: 'Done; nothing to return.' },
    conditional: true,
  },
  action(
    'scheduleCampaign',
    'schedule',
    'Schedule (or reschedule) a campaign',
    'At a local time in an IANA time zone, or now. Checked first: the template is valid, every segment and list is ' +
      'live, the category exists, the sender is in the mail domain (400 `campaign.not_sendable` with field errors). ' +
      'A skipped local time (daylight-saving gap) is moved forward by the gap (`schedule.adjusted`); a repeated one ' +
      'is its first occurrence. Again before the send starts: a reschedule.',
    { body: CampaignSchedule },
  ),
  action('cancelCampaign', 'cancel', 'Cancel a campaign', 'Before the send starts, or while paused; for good.'),
  action(
    'pauseCampaign',
    'pause',
    'Pause a sending campaign',
    'The send stops before its next page of recipients; what it was sending completes.',
  ),
  action(
    'resumeCampaign',
    'resume',
    'Resume a paused or failed campaign',
    'A new run goes on from where the send stopped; nobody already mailed (or whose send is in doubt) is mailed ' +
      'again.',
  ),
  {
    operationId: 'listCampaignRecipients',
    method: 'GET',
    path: '/v1/campaigns/{campaignId}/recipients',
    group: 'campaigns',
    permission: 'campaigns:read',
    tag: 'Campaigns',
    summary: 'The campaign’s ledger of recipients',
    description:
      'Every address the send processed, in address order: claimed, sent, failed, or skipped with its reason. ' +
      '`state` filters; a filtered page may hold fewer items than `limit` (follow `nextCursor`).',
    params: CampaignIdParams,
    query: CampaignRecipientsQuery,
    response: { status: 200, schema: pageOf(CampaignRecipient), description: 'A page of the ledger.' },
  },
]);
