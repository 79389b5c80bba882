import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DescribeEventBusCommand,
  DescribeRuleCommand,
  EventBridgeClient,
  ListEventBusesCommand,
  ListRulesCommand,
  PutEventsCommand,
} from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loopbackOnly } from '../../test/support/net.ts';
import { DurableQueue } from './durable-queue.ts';
import { type EventBridgeEvent, LocalEventBridge, selectPath, targetInput, transformInput } from './eventbridge.ts';
import { TemplateResolver } from './template.ts';
import type { CfnTemplate, ExecutionStarter, InvocationType, Invoker } from './types.ts';

const fnArn = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;
const getAtt = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
const fn = (name: string) => ({ Type: 'AWS::Lambda::Function', Properties: { FunctionName: name } });

const template: CfnTemplate = {
  Resources: {
    CrmBus: { Type: 'AWS::Events::EventBus', Properties: { Name: 'crm-events' } },
    OnContactFn: fn('on-contact'),
    NotifyFn: fn('notify'),
    FailingFn: fn('failing'),
    FlakyFn: fn('flaky'),
    AuditFn: fn('audit'),
    DealFlow: { Type: 'AWS::StepFunctions::StateMachine', Properties: { StateMachineName: 'deal-flow' } },
    ContactCreatedRule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        EventBusName: { Ref: 'CrmBus' },
        EventPattern: { source: ['crm.contacts'], 'detail-type': ['ContactCreated'] },
        State: 'ENABLED',
        Targets: [
          { Arn: getAtt('OnContactFn'), Id: 'OnContact' },
          { Arn: { Ref: 'DealFlow' }, Id: 'Flow', InputPath: '$.detail' },
        ],
      },
    },
    DealWonRule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        Name: 'deal-won',
        EventBusName: getAtt('CrmBus'), // an ARN works as well as a name
        EventPattern: { source: ['crm.deals'], detail: { stage: ['won'], amount: [{ numeric: ['>', 0] }] } },
        Targets: [
          {
            Arn: getAtt('NotifyFn'),
            Id: 'Notify',
            InputTransformer: {
              InputPathsMap: { deal: '$.detail.dealId', amount: '$.detail.amount', owner: '$.detail.owner.name' },
              InputTemplate:
                '{"deal": <deal>, "amount": <amount>, "text": "Deal <deal> won by <owner>", ' +
                '"rule": <aws.events.rule-name>, "original": <aws.events.event.json>}',
            },
          },
        ],
      },
    },
    DisabledRule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        EventBusName: { Ref: 'CrmBus' },
        EventPattern: { source: ['crm.contacts'] },
        State: 'DISABLED',
        Targets: [{ Arn: getAtt('AuditFn'), Id: 'Audit' }],
      },
    },
    DefaultBusRule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        EventPattern: { source: ['crm.default'] },
        Targets: [{ Arn: getAtt('AuditFn'), Id: 'Constant', Input: '{"fixed":true}' }],
      },
    },
    ForwardRule: {
      Type: 'AWS::Events::Rule',
      Properties: { EventPattern: { source: ['crm.forward'] }, Targets: [{ Arn: getAtt('CrmBus'), Id: 'ToCrm' }] },
    },
    ForwardedRule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        EventBusName: { Ref: 'CrmBus' },
        EventPattern: { source: ['crm.forward'] },
        Targets: [{ Arn: getAtt('AuditFn'), Id: 'Forwarded' }],
      },
    },
    FailingRule: {
      Type: 'AWS::Events::Rule',
      Properties: {
        EventBusName: { Ref: 'CrmBus' },
        EventPattern: { source: ['crm.fail'] },
        Targets: [
          {
            Arn: getAtt('FailingFn'),
            Id: 'Failing',
            RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 60 },
            DeadLetterConfig: { Arn: 'arn:aws:sqs:us-east-1:000000000000:dlq' },
          },
          { Arn: getAtt('FlakyFn'), Id: 'Flaky' },
        ],
      },
    },
    NightlyRule: {
      Type: 'AWS::Events::Rule',
      Properties: { ScheduleExpression: 'rate(1 day)', Targets: [{ Arn: getAtt('AuditFn'), Id: 'Nightly' }] },
    },
  },
};

/** Stands in for the local Lambda runtime (a separate component): records calls, fails on demand. */
class RecordingInvoker implements Invoker {
  calls: Array<{ ref: string; event: unknown; type?: InvocationType }> = [];
  flakyFailures = 0;
  has(ref: string): boolean {
    return ref.includes(':function:');
  }
  async invoke(ref: string, event: unknown, type?: InvocationType): Promise<unknown> {
    this.calls.push({ ref, event, type });
    if (ref === fnArn('failing')) throw new Error('Rate exceeded');
    if (ref === fnArn('flaky') && this.flakyFailures-- > 0) throw new Error('try again');
    return undefined;
  }
  callsTo(name: string) {
    return this.calls.filter((c) => c.ref === fnArn(name));
  }
}

class RecordingExecutions implements ExecutionStarter {
  started: Array<{ arn: string; input: unknown }> = [];
  async startExecution(arn: string, input: unknown) {
    this.started.push({ arn, input });
    return { executionArn: `${arn.replace(':stateMachine:', ':execution:')}:${this.started.length}` };
  }
}

const invoker = new RecordingInvoker();
const executions = new RecordingExecutions();
const logs: string[] = [];
let bridge: LocalEventBridge;
let client: EventBridgeClient;

beforeAll(async () => {
  bridge = await LocalEventBridge.start({
    resolver: new TemplateResolver(template),
    invoker,
    executions,
    retryDelayMs: 5,
    log: (msg) => logs.push(msg),
  });
  client = new EventBridgeClient({
    endpoint: bridge.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  client?.destroy();
  await bridge?.stop();
});

beforeEach(async () => {
  await bridge.idle();
  invoker.calls = [];
  executions.started = [];
});

const put = (entries: Array<Record<string, unknown>>) => client.send(new PutEventsCommand({ Entries: entries }));
const contactCreated = {
  EventBusName: 'crm-events',
  Source: 'crm.contacts',
  DetailType: 'ContactCreated',
  Detail: JSON.stringify({ contactId: 'c-1', name: 'Ann' }),
  Resources: ['crm:contact/c-1'],
};

describe('LocalEventBridge', () => {
  it('reads buses and rules from the template and listens on 127.0.0.1', async () => {
    expect(bridge.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await loopbackOnly(Number(new URL(bridge.endpoint).port))).toBe(true);
    expect([...bridge.buses].sort()).toEqual(['crm-events', 'default']);
    expect(bridge.rules.map((r) => r.name)).not.toContain('NightlyRule'); // scheduled rules are not matched here
    const dealWon = bridge.rules.find((r) => r.name === 'deal-won');
    expect(dealWon).toMatchObject({
      bus: 'crm-events',
      arn: 'arn:aws:events:us-east-1:000000000000:rule/crm-events/deal-won',
    });
    expect(bridge.rules.find((r) => r.logicalId === 'DisabledRule')?.enabled).toBe(false);
  });

  it('delivers a PutEvents entry sent with the AWS SDK to the Lambda and Step Functions targets', async () => {
    const time = new Date('2024-05-06T07:08:09.123Z');
    const response = await put([{ ...contactCreated, Time: time }]);
    expect(response.FailedEntryCount).toBe(0);
    const eventId = response.Entries?.[0]?.EventId as string;
    expect(eventId).toMatch(/^[0-9a-f-]{36}$/);

    const delivery = await bridge.waitForDelivery((d) => d.event.id === eventId && d.target === 'OnContact');
    expect(delivery).toMatchObject({ rule: 'ContactCreatedRule', bus: 'crm-events', attempts: 1 });
    expect(delivery.payload).toEqual({
      version: '0',
      id: eventId,
      'detail-type': 'ContactCreated',
      source: 'crm.contacts',
      account: '000000000000',
      time: '2024-05-06T07:08:09Z',
      region: 'us-east-1',
      resources: ['crm:contact/c-1'],
      detail: { contactId: 'c-1', name: 'Ann' },
    });
    await bridge.idle();
    expect(invoker.callsTo('on-contact')).toEqual([
      { ref: fnArn('on-contact'), event: delivery.payload, type: 'Event' },
    ]);
    // InputPath $.detail for the state machine.
    expect(executions.started).toEqual([
      { arn: 'arn:aws:states:us-east-1:000000000000:stateMachine:deal-flow', input: { contactId: 'c-1', name: 'Ann' } },
    ]);
    // The disabled rule matches the same event but must not fire.
    expect(invoker.callsTo('audit')).toEqual([]);
    expect(bridge.recentEvents('crm-events').at(-1)?.id).toBe(eventId);
  });

  it('answers PutEvents before delivering', async () => {
    const { eventIds } = await bridge.putEvents([{ ...contactCreated, Detail: '{}' }]);
    expect(invoker.calls).toEqual([]);
    await bridge.idle();
    expect(invoker.callsTo('on-contact').map((c) => (c.event as EventBridgeEvent).id)).toEqual(eventIds);
  });

  it('stamps the current time without milliseconds when Time is absent', async () => {
    const { eventIds } = await bridge.putEvents([{ Source: 'crm.other', DetailType: 'X', Detail: '{}' }]);
    const event = bridge.recentEvents().find((e) => e.id === eventIds[0]);
    expect(event?.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Math.abs(Date.parse(event?.time ?? '') - Date.now())).toBeLessThan(5000);
  });

  it('does not deliver events that no enabled rule on their bus matches', async () => {
    await put([
      { ...contactCreated, DetailType: 'ContactUpdated' },
      { ...contactCreated, EventBusName: undefined }, // right pattern, wrong (default) bus
      { EventBusName: 'crm-events', Source: 'crm.deals', DetailType: 'DealWon', Detail: '{"stage":"won","amount":0}' },
      { EventBusName: 'crm-events', Source: 'crm.deals', DetailType: 'DealWon', Detail: '{"stage":"lost","amount":5}' },
    ]);
    await bridge.idle();
    expect(invoker.calls).toEqual([]);
    expect(executions.started).toEqual([]);
  });

  it('applies an InputTransformer', async () => {
    const detail = { dealId: 'd-9', amount: 1200, owner: { name: 'Bob' }, stage: 'won' };
    const response = await put([
      { EventBusName: 'crm-events', Source: 'crm.deals', DetailType: 'DealWon', Detail: JSON.stringify(detail) },
    ]);
    const id = response.Entries?.[0]?.EventId;
    const delivery = await bridge.waitForDelivery((d) => d.event.id === id);
    expect(delivery.payload).toEqual({
      deal: 'd-9',
      amount: 1200,
      text: 'Deal d-9 won by Bob',
      rule: 'deal-won',
      original: delivery.event,
    });
    expect(delivery.event.detail).toEqual(detail);
  });

  it('passes a constant Input to targets on the default bus', async () => {
    const { eventIds } = await bridge.putEvents([{ Source: 'crm.default', DetailType: 'Ping', Detail: '{}' }]);
    const delivery = await bridge.waitForDelivery((d) => d.event.id === eventIds[0]);
    expect(delivery).toMatchObject({ bus: 'default', target: 'Constant', payload: { fixed: true } });
  });

  it('forwards events to another bus whose rules then match', async () => {
    const { eventIds } = await bridge.putEvents([{ Source: 'crm.forward', DetailType: 'Hop', Detail: '{"n":1}' }]);
    const delivery = await bridge.waitForDelivery((d) => d.event.id === eventIds[0] && d.target === 'Forwarded');
    expect(delivery).toMatchObject({ bus: 'crm-events', payload: { id: eventIds[0], detail: { n: 1 } } });
    expect(bridge.recentEvents('default').some((e) => e.id === eventIds[0])).toBe(true);
    expect(bridge.recentEvents('crm-events').some((e) => e.id === eventIds[0])).toBe(true);
  });

  it('retries a failing target per its RetryPolicy, then dead-letters it; a flaky one succeeds on retry', async () => {
    invoker.flakyFailures = 1;
    const { eventIds } = await bridge.putEvents([
      { EventBusName: 'crm-events', Source: 'crm.fail', DetailType: 'Boom', Detail: '{}' },
    ]);
    await bridge.idle();
    expect(invoker.callsTo('failing')).toHaveLength(3); // 1 attempt + MaximumRetryAttempts 2
    const letter = bridge.deadLetters.find((l) => l.event.id === eventIds[0]);
    expect(letter).toMatchObject({
      rule: 'FailingRule',
      target: 'Failing',
      attempts: 3,
      error: 'Rate exceeded',
      deadLetterArn: 'arn:aws:sqs:us-east-1:000000000000:dlq',
    });
    expect(logs.some((l) => l.includes('gave up after 3 attempt(s)'))).toBe(true);
    const flaky = await bridge.waitForDelivery((d) => d.event.id === eventIds[0] && d.target === 'Flaky');
    expect(flaky.attempts).toBe(2);
    expect(invoker.callsTo('flaky')).toHaveLength(2);
  });

  it('reports per-entry validation errors like AWS', async () => {
    const response = await put([
      contactCreated,
      { ...contactCreated, DetailType: undefined },
      { ...contactCreated, Source: undefined },
      { ...contactCreated, Detail: undefined },
      { ...contactCreated, Detail: '[1, 2]' },
      { ...contactCreated, Detail: 'not json' },
      { ...contactCreated, EventBusName: 'nope' },
      { ...contactCreated, Source: 'aws.ec2' },
    ]);
    expect(response.FailedEntryCount).toBe(7);
    const [ok, ...failed] = response.Entries ?? [];
    expect(ok?.EventId).toBeTruthy();
    expect(failed.map((e) => [e.ErrorCode, e.ErrorMessage])).toEqual([
      ['InvalidArgument', 'Parameter DetailType is not valid. Reason: DetailType is a required argument.'],
      ['InvalidArgument', 'Parameter Source is not valid. Reason: Source is a required argument.'],
      ['InvalidArgument', 'Parameter Detail is not valid. Reason: Detail is a required argument.'],
      ['MalformedDetail', 'Detail is malformed.'],
      ['MalformedDetail', 'Detail is malformed.'],
      ['ResourceNotFoundException', 'Event bus nope does not exist.'],
      ['NotAuthorizedForSourceException', 'Not authorized for the source.'],
    ]);
    expect(failed.every((e) => e.EventId === undefined)).toBe(true);
  });

  it("takes an AWS service's own events (aws.* sources) in-process only, never on the PutEvents API", async () => {
    const sesEvent = {
      Source: 'aws.ses',
      DetailType: 'Email Delivered',
      Detail: JSON.stringify({ eventType: 'Delivery', mail: { messageId: 'm-1' } }),
    };
    const refused = await put([sesEvent]);
    expect(refused.Entries?.[0]?.ErrorCode).toBe('NotAuthorizedForSourceException');
    // What the local SES does for a configuration set's EventBridge destination: SES publishes to the default bus.
    const accepted = await bridge.putServiceEvents([{ ...sesEvent, Source: 'crm.default' }]);
    expect(accepted.FailedEntryCount).toBe(0);
    const aws = await bridge.putServiceEvents([sesEvent]);
    expect(aws.FailedEntryCount).toBe(0);
    await bridge.idle();
    // Routed like any event: the default-bus rule of the template matched the crm.default one.
    expect(invoker.callsTo('audit').map((c) => c.event)).toEqual([{ fixed: true }]);
    const seen = bridge.recentEvents().filter((e) => e.source === 'aws.ses');
    expect(seen.map((e) => [e['detail-type'], (e.detail as { eventType: string }).eventType])).toEqual([
      ['Email Delivered', 'Delivery'],
    ]);
  });

  it('rejects requests over the entry-count and size limits', async () => {
    const eleven = Array.from({ length: 11 }, () => contactCreated);
    await expect(put(eleven)).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(put([])).rejects.toMatchObject({ name: 'ValidationException' });
    const big = { ...contactCreated, Detail: JSON.stringify({ blob: 'x'.repeat(256 * 1024) }) };
    await expect(put([big])).rejects.toMatchObject({
      name: 'ValidationException',
      message: 'Total size of the entries in the request is over the limit.',
    });
    await expect(bridge.putEvents(eleven as never)).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('answers unknown operations with an AWS-style 400', async () => {
    await expect(client.send(new DescribeEventBusCommand({}))).rejects.toMatchObject({
      name: 'UnknownOperationException',
      $metadata: { httpStatusCode: 400 },
    });
    const res = await fetch(bridge.endpoint, {
      method: 'POST',
      headers: { 'x-amz-target': 'AWSEvents.PutEvents', 'content-type': 'application/x-amz-json-1.1' },
      body: '{not json',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/x-amz-json-1.1');
    expect(await res.json()).toEqual({ __type: 'SerializationException', message: 'Request body is not valid JSON' });
  });

  it('times out waitForDelivery when nothing matches', async () => {
    await expect(bridge.waitForDelivery((d) => d.target === 'never', 50)).rejects.toThrow(/within 50 ms/);
  });
});

describe('LocalEventBridge list APIs', () => {
  it('answers ListEventBuses, ListRules and DescribeRule as the AWS CLI and SDK expect', async () => {
    const buses = await client.send(new ListEventBusesCommand({}));
    expect(buses.EventBuses).toEqual([
      { Name: 'crm-events', Arn: 'arn:aws:events:us-east-1:000000000000:event-bus/crm-events' },
      { Name: 'default', Arn: 'arn:aws:events:us-east-1:000000000000:event-bus/default' },
    ]);
    expect(buses.NextToken).toBeUndefined();
    const prefixed = await client.send(new ListEventBusesCommand({ NamePrefix: 'crm' }));
    expect(prefixed.EventBuses?.map((b) => b.Name)).toEqual(['crm-events']);

    const crmRules = await client.send(new ListRulesCommand({ EventBusName: 'crm-events' }));
    expect(crmRules.Rules?.map((r) => r.Name).sort()).toEqual([
      'ContactCreatedRule',
      'DisabledRule',
      'FailingRule',
      'ForwardedRule',
      'deal-won',
    ]);
    const disabled = crmRules.Rules?.find((r) => r.Name === 'DisabledRule');
    expect(disabled).toEqual({
      Name: 'DisabledRule',
      Arn: 'arn:aws:events:us-east-1:000000000000:rule/crm-events/DisabledRule',
      EventBusName: 'crm-events',
      State: 'DISABLED',
      EventPattern: JSON.stringify({ source: ['crm.contacts'] }),
    });
    // Without a bus name: the default bus, scheduled rules included.
    const defaultRules = await client.send(new ListRulesCommand({}));
    expect(defaultRules.Rules?.map((r) => r.Name).sort()).toEqual(['DefaultBusRule', 'ForwardRule', 'NightlyRule']);
    expect(defaultRules.Rules?.find((r) => r.Name === 'NightlyRule')).toMatchObject({
      ScheduleExpression: 'rate(1 day)',
      State: 'ENABLED',
      EventBusName: 'default',
    });
    // Pagination with Limit and NextToken, and a name prefix; a bus given by its ARN.
    const first = await client.send(new ListRulesCommand({ EventBusName: 'crm-events', Limit: 2 }));
    expect(first.Rules).toHaveLength(2);
    const rest = await client.send(
      new ListRulesCommand({ EventBusName: 'crm-events', Limit: 100, NextToken: first.NextToken }),
    );
    expect([...(first.Rules ?? []), ...(rest.Rules ?? [])].map((r) => r.Name)).toEqual(
      crmRules.Rules?.map((r) => r.Name),
    );
    expect(rest.NextToken).toBeUndefined();
    const byArn = await client.send(
      new ListRulesCommand({
        EventBusName: 'arn:aws:events:us-east-1:000000000000:event-bus/crm-events',
        NamePrefix: 'deal',
      }),
    );
    expect(byArn.Rules?.map((r) => r.Name)).toEqual(['deal-won']);

    const described = await client.send(new DescribeRuleCommand({ Name: 'deal-won', EventBusName: 'crm-events' }));
    expect(described).toMatchObject({
      Name: 'deal-won',
      Arn: 'arn:aws:events:us-east-1:000000000000:rule/crm-events/deal-won',
      EventBusName: 'crm-events',
      State: 'ENABLED',
      CreatedBy: '000000000000',
    });
    expect(JSON.parse(described.EventPattern ?? '')).toEqual({
      source: ['crm.deals'],
      detail: { stage: ['won'], amount: [{ numeric: ['>', 0] }] },
    });
  });

  it('answers list errors as AWS does', async () => {
    await expect(client.send(new ListRulesCommand({ EventBusName: 'nope' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: 'Event bus nope does not exist.',
    });
    await expect(client.send(new DescribeRuleCommand({ Name: 'deal-won' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: 'Rule deal-won does not exist on EventBus default.',
    });
    await expect(client.send(new ListRulesCommand({ Limit: 0 }))).rejects.toMatchObject({
      name: 'ValidationException',
    });
    await expect(client.send(new ListRulesCommand({ NextToken: 'forged' }))).rejects.toMatchObject({
      name: 'ValidationException',
    });
  });
});

describe('LocalEventBridge journal', () => {
  // Inside the project's data dir, never the system temp dir.
  const dataDir = join(import.meta.dirname, '..', '..', '.data', `test-eventbridge-${randomUUID().slice(0, 8)}`);
  const journaled = () => DurableQueue.pendingIn(join(dataDir, 'deliveries'));

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps an accepted delivery on disk until it was delivered, and replays it after a crash', async () => {
    // The first process "crashes" while its target call hangs: the delivery is still journaled.
    let release: () => void = () => {};
    const hanging: Invoker = {
      has: (ref) => ref.includes(':function:'),
      invoke: () => new Promise((resolve) => (release = () => resolve(undefined))),
    };
    const crashed = await LocalEventBridge.start({
      resolver: new TemplateResolver(template),
      invoker: hanging,
      executions,
      dataDir,
      log: () => {},
    });
    const { eventIds } = await crashed.putEvents([{ Source: 'crm.default', DetailType: 'Ping', Detail: '{"n":7}' }]);
    // Journaled before PutEvents answered.
    const pending = await journaled();
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({
      rule: 'arn:aws:events:us-east-1:000000000000:rule/DefaultBusRule',
      target: 'Constant',
      event: { id: eventIds[0], detail: { n: 7 } },
    });

    const restarted = await LocalEventBridge.start({
      resolver: new TemplateResolver(template),
      invoker,
      executions,
      dataDir,
      log: () => {},
    });
    try {
      expect(restarted.pendingDeliveries).toBe(1);
      expect(restarted.deliverPending()).toBe(1);
      const delivery = await restarted.waitForDelivery((d) => d.event.id === eventIds[0]);
      expect(delivery).toMatchObject({ target: 'Constant', payload: { fixed: true } });
      await restarted.idle();
      expect(restarted.pendingDeliveries).toBe(0);
      expect(await journaled()).toEqual([]);
      // Replayed once only.
      expect(restarted.deliverPending()).toBe(0);
    } finally {
      await restarted.stop();
      release();
      await crashed.stop();
    }
    // The first process finishing late (a duplicate, as at-least-once allows) leaves the journal empty too.
    expect(await journaled()).toEqual([]);
  });

  it('journals dead letters of a target with a DeadLetterConfig', async () => {
    const bridge = await LocalEventBridge.start({
      resolver: new TemplateResolver(template),
      invoker,
      executions,
      dataDir,
      retryDelayMs: 1,
      log: () => {},
    });
    try {
      const { eventIds } = await bridge.putEvents([
        { EventBusName: 'crm-events', Source: 'crm.fail', DetailType: 'Boom', Detail: '{}' },
      ]);
      await bridge.idle();
      const letters = readFileSync(join(dataDir, 'dead-letters.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { event: { id: string }; deadLetterArn: string });
      expect(letters.map((l) => [l.event.id, l.deadLetterArn])).toEqual([
        [eventIds[0], 'arn:aws:sqs:us-east-1:000000000000:dlq'],
      ]);
      expect(await journaled()).toEqual([]);
    } finally {
      await bridge.stop();
    }
  });
});

describe('target input', () => {
  // The EC2 event and templates of the docs' "Transforming target input" page.
  const event: EventBridgeEvent = {
    version: '0',
    id: '7bf73129-1428-4cd3-a780-95db273d1602',
    'detail-type': 'EC2 Instance State-change Notification',
    source: 'aws.ec2',
    account: '123456789012',
    time: '2015-11-11T21:29:54Z',
    region: 'us-east-1',
    resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111'],
    detail: { 'instance-id': 'i-0123456789', state: 'RUNNING', tags: ['a', 'b'], count: 3 },
  };
  const rule = { name: 'example', arn: 'arn:aws:events:us-east-2:123456789012:rule/example' };
  const paths = {
    instance: '$.detail.instance-id',
    state: '$.detail.state',
    tags: '$.detail.tags',
    n: '$.detail.count',
  };
  const render = (InputTemplate: string) => transformInput({ InputPathsMap: paths, InputTemplate }, event, rule);

  it.each([
    ['simple string', '"instance <instance> is in <state>"', '"instance i-0123456789 is in RUNNING"'],
    ['escaped quotes', '"instance \\"<instance>\\" is in <state>"', '"instance \\"i-0123456789\\" is in RUNNING"'],
    ['plain text', '<instance> is in state <state>', 'i-0123456789 is in state RUNNING'],
    ['simple JSON', '{"instance" : <instance>, "state": <state>}', '{"instance" : "i-0123456789", "state": "RUNNING"}'],
    [
      'JSON with strings and variables',
      '{"state": "<state>", "s": "instance \\"<instance>\\" is in <state>"}',
      '{"state": "RUNNING", "s": "instance \\"i-0123456789\\" is in RUNNING"}',
    ],
    ['JSON mix', '{"state": [ 9, <state>, true ], "n": <n>}', '{"state": [ 9, "RUNNING", true ], "n": 3}'],
    ['array value', '{"tags": <tags>}', '{"tags": ["a","b"]}'],
    [
      'reserved variables',
      '{"ruleArn": <aws.events.rule-arn>, "ruleName": <aws.events.rule-name>}',
      `{"ruleArn": "${rule.arn}", "ruleName": "example"}`,
    ],
    ['reserved variable in a string', '"<aws.events.rule-name> triggered"', '"example triggered"'],
    ['undeclared variable is kept', '{"x": <missing>}', '{"x": <missing>}'],
    ['unknown placeholder is kept', '"a <b> c"', '"a <b> c"'],
  ])('%s', (_name, template, expected) => {
    expect(render(template)).toBe(expected);
  });

  it('inserts the whole event with aws.events.event and aws.events.event.json', () => {
    expect(JSON.parse(render('{"e": <aws.events.event>, "j": <aws.events.event.json>}'))).toEqual({
      e: event,
      j: event,
    });
  });

  it('renders a path absent from the event as null in JSON and empty in text', () => {
    const out = transformInput(
      { InputPathsMap: { x: '$.detail.nope' }, InputTemplate: '{"x": <x>, "t": "[<x>]"}' },
      event,
      rule,
    );
    expect(JSON.parse(out)).toEqual({ x: null, t: '[]' });
  });

  it('chooses Input, InputPath, InputTransformer or the event', () => {
    expect(targetInput({ Id: 't', Arn: 'a', Input: '{"a":1}' }, event, rule)).toEqual({ a: 1 });
    expect(targetInput({ Id: 't', Arn: 'a', InputPath: '$.detail.state' }, event, rule)).toBe('RUNNING');
    expect(targetInput({ Id: 't', Arn: 'a' }, event, rule)).toBe(event);
  });

  it.each([
    ['$', event],
    ['$.detail.instance-id', 'i-0123456789'],
    ['$.detail-type', 'EC2 Instance State-change Notification'],
    ['$.resources[0]', 'arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111'],
    ["$['detail']['state']", 'RUNNING'],
    ['$.detail.tags[1]', 'b'],
    ['$.detail.nope', undefined],
    ['$.resources[5]', undefined],
    ['detail', undefined],
  ])('selectPath %s', (path, expected) => {
    expect(selectPath(event, path)).toEqual(expected);
  });
});
