import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConflictException,
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  CreateScheduleGroupCommand,
  DeleteScheduleCommand,
  DeleteScheduleGroupCommand,
  GetScheduleCommand,
  GetScheduleGroupCommand,
  ListSchedulesCommand,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
  ValidationException,
} from '@aws-sdk/client-scheduler';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalScheduler, nextCron, parseScheduleExpression } from './scheduler.ts';
import { LocalStepFunctions } from './stepfunctions.ts';
import { TemplateResolver } from './template.ts';
import type { EventPutter, ExecutionStarter, InvocationType, Invoker } from './types.ts';

const FN_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:reminder';
const ROLE_ARN = 'arn:aws:iam::000000000000:role/scheduler';
const SM_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:followup';

/** Records invocations; `failures` makes the next calls throw, as an unreachable function would. */
class FakeInvoker implements Invoker {
  readonly calls: Array<{ fn: string; event: unknown; type?: InvocationType }> = [];
  failures = 0;

  has(ref: string): boolean {
    return ref === FN_ARN;
  }

  async invoke(fn: string, event: unknown, type?: InvocationType): Promise<unknown> {
    this.calls.push({ fn, event, type });
    if (this.failures > 0) {
      this.failures--;
      throw new Error('TooManyRequestsException');
    }
    return undefined;
  }
}

/** A clock the test moves by hand, so nothing depends on how fast the machine is. */
class Clock {
  constructor(public t: number) {}
  now = () => new Date(this.t);
  advance(ms: number): void {
    this.t += ms;
  }
}

const HOUR = 3_600_000;
const T0 = Date.parse('2030-01-15T10:00:00Z');

/** `at(...)` for an instant, in UTC. */
function at(ms: number): string {
  return `at(${new Date(ms).toISOString().slice(0, 19)})`;
}

function clientFor(scheduler: LocalScheduler): SchedulerClient {
  return new SchedulerClient({
    endpoint: scheduler.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}

function lambdaSchedule(name: string, expression: string, extra: Partial<CreateScheduleCommandInput> = {}) {
  return new CreateScheduleCommand({
    Name: name,
    ScheduleExpression: expression,
    FlexibleTimeWindow: { Mode: 'OFF' },
    Target: { Arn: FN_ARN, RoleArn: ROLE_ARN, Input: JSON.stringify({ reminderId: name }) },
    ...extra,
  });
}

async function eventually(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('LocalScheduler', () => {
  let dataDir: string;
  const started: Array<{ scheduler: LocalScheduler; client: SchedulerClient }> = [];
  const logs: string[] = [];

  async function startScheduler(options: Partial<Parameters<typeof LocalScheduler.start>[0]> & { invoker: Invoker }) {
    const scheduler = await LocalScheduler.start({ dataDir, log: (m) => logs.push(m), ...options });
    const client = clientFor(scheduler);
    started.push({ scheduler, client });
    return { scheduler, client };
  }

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'local-scheduler-'));
  });

  afterEach(async () => {
    for (const { scheduler, client } of started.splice(0)) {
      client.destroy();
      await scheduler.stop();
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  it('fires an at() schedule on the real clock, once, and keeps it (ActionAfterCompletion NONE)', async () => {
    const invoker = new FakeInvoker();
    const { scheduler, client } = await startScheduler({ invoker, pollIntervalMs: 100 });
    expect(scheduler.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // Whole seconds, at least one second ahead.
    const due = Math.ceil((Date.now() + 1000) / 1000) * 1000;
    await client.send(
      new CreateScheduleCommand({
        Name: 'soon',
        ScheduleExpression: at(due),
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: {
          Arn: FN_ARN,
          RoleArn: ROLE_ARN,
          Input: '{"reminderId":"r1","at":"<aws.scheduler.scheduled-time>","schedule":"<aws.scheduler.schedule-arn>"}',
        },
      }),
    );
    expect(invoker.calls).toHaveLength(0);
    await eventually(() => invoker.calls.length > 0, 15_000);
    expect(Date.now()).toBeGreaterThanOrEqual(due);
    expect(invoker.calls[0]).toEqual({
      fn: FN_ARN,
      type: 'Event',
      event: {
        reminderId: 'r1',
        at: new Date(due).toISOString().replace('.000Z', 'Z'),
        schedule: 'arn:aws:scheduler:us-east-1:000000000000:schedule/default/soon',
      },
    });

    await scheduler.poll();
    await scheduler.poll();
    expect(invoker.calls).toHaveLength(1);
    const kept = await client.send(new GetScheduleCommand({ Name: 'soon' }));
    expect(kept.State).toBe('ENABLED');
    expect(scheduler.get('soon')).toMatchObject({ nextFireAt: undefined, completedAt: expect.any(Number) });
  });

  it('creates, gets, updates, lists and deletes schedules like the AWS API', async () => {
    const clock = new Clock(T0);
    const { client } = await startScheduler({ invoker: new FakeInvoker(), now: clock.now, pollIntervalMs: 3_600_000 });

    const created = await client.send(
      lambdaSchedule('reminder-1', 'at(2030-02-01T09:00:00)', {
        ScheduleExpressionTimezone: 'Europe/Paris',
        Description: 'call back',
        ActionAfterCompletion: 'DELETE',
      }),
    );
    expect(created.ScheduleArn).toBe('arn:aws:scheduler:us-east-1:000000000000:schedule/default/reminder-1');

    const got = await client.send(new GetScheduleCommand({ Name: 'reminder-1' }));
    expect(got).toMatchObject({
      Name: 'reminder-1',
      GroupName: 'default',
      ScheduleExpression: 'at(2030-02-01T09:00:00)',
      ScheduleExpressionTimezone: 'Europe/Paris',
      Description: 'call back',
      State: 'ENABLED',
      ActionAfterCompletion: 'DELETE',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: FN_ARN,
        RoleArn: ROLE_ARN,
        Input: '{"reminderId":"reminder-1"}',
        RetryPolicy: { MaximumEventAgeInSeconds: 86400, MaximumRetryAttempts: 185 },
      },
    });
    expect(got.CreationDate).toEqual(new Date(T0));

    await expect(client.send(lambdaSchedule('reminder-1', 'rate(5 minutes)'))).rejects.toBeInstanceOf(
      ConflictException,
    );

    clock.advance(60_000);
    await client.send(
      new UpdateScheduleCommand({
        Name: 'reminder-1',
        ScheduleExpression: 'rate(2 hours)',
        FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 },
        State: 'DISABLED',
        Target: { Arn: FN_ARN, RoleArn: ROLE_ARN, RetryPolicy: { MaximumRetryAttempts: 3 } },
      }),
    );
    const updated = await client.send(new GetScheduleCommand({ Name: 'reminder-1' }));
    expect(updated).toMatchObject({
      ScheduleExpression: 'rate(2 hours)',
      State: 'DISABLED',
      ActionAfterCompletion: 'NONE', // omitted on update: back to the default
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 },
      Target: { RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 86400 } },
    });
    expect(updated.Description).toBeUndefined();
    expect(updated.CreationDate).toEqual(new Date(T0));
    expect(updated.LastModificationDate).toEqual(new Date(T0 + 60_000));

    await client.send(lambdaSchedule('reminder-2', 'cron(0 9 ? * MON-FRI *)'));
    await client.send(lambdaSchedule('digest', 'rate(1 day)'));
    const all = await client.send(new ListSchedulesCommand({}));
    expect(all.Schedules?.map((s) => s.Name)).toEqual(['digest', 'reminder-1', 'reminder-2']);
    const prefixed = await client.send(new ListSchedulesCommand({ NamePrefix: 'reminder-', State: 'ENABLED' }));
    expect(prefixed.Schedules?.map((s) => s.Name)).toEqual(['reminder-2']);
    expect(prefixed.Schedules?.[0]?.Target?.Arn).toBe(FN_ARN);
    const paged = await client.send(new ListSchedulesCommand({ MaxResults: 2 }));
    expect(paged.Schedules).toHaveLength(2);
    const rest = await client.send(new ListSchedulesCommand({ MaxResults: 2, NextToken: paged.NextToken }));
    expect(rest.Schedules?.map((s) => s.Name)).toEqual(['reminder-2']);

    await client.send(new DeleteScheduleCommand({ Name: 'reminder-1' }));
    await expect(client.send(new GetScheduleCommand({ Name: 'reminder-1' }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    await expect(client.send(new DeleteScheduleCommand({ Name: 'reminder-1' }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
  });

  it('validates like AWS', async () => {
    const { client } = await startScheduler({ invoker: new FakeInvoker(), pollIntervalMs: 3_600_000 });
    const invalid = [
      'at(2030-13-01T00:00:00)',
      'at(2030-02-30T10:00:00)',
      'at(2030-01-01 10:00:00)',
      'rate(1 minutes)',
      'rate(5 minute)',
      'rate(0 minutes)',
      'rate(5 weeks)',
      'cron(0 9 * * * *)',
      'cron(0 9 * *)',
      'cron(60 9 * * ? *)',
      'every day',
    ];
    for (const expression of invalid) {
      await expect(client.send(lambdaSchedule('bad', expression)), expression).rejects.toBeInstanceOf(
        ValidationException,
      );
    }
    await expect(
      client.send(lambdaSchedule('bad', 'rate(5 minutes)', { ScheduleExpressionTimezone: 'Mars/Olympus' })),
    ).rejects.toBeInstanceOf(ValidationException);
    await expect(
      client.send(lambdaSchedule('bad', 'rate(5 minutes)', { FlexibleTimeWindow: undefined })),
    ).rejects.toBeInstanceOf(ValidationException);
    await expect(
      client.send(lambdaSchedule('bad', 'rate(5 minutes)', { FlexibleTimeWindow: { Mode: 'FLEXIBLE' } })),
    ).rejects.toBeInstanceOf(ValidationException);
    await expect(
      client.send(lambdaSchedule('bad', 'rate(5 minutes)', { Target: { Arn: 'reminder', RoleArn: ROLE_ARN } })),
    ).rejects.toBeInstanceOf(ValidationException);
    await expect(client.send(lambdaSchedule('bad name', 'rate(5 minutes)'))).rejects.toBeInstanceOf(
      ValidationException,
    );
    await expect(
      client.send(lambdaSchedule('bad', 'rate(5 minutes)', { StartDate: new Date(T0 + HOUR), EndDate: new Date(T0) })),
    ).rejects.toBeInstanceOf(ValidationException);
    await expect(client.send(lambdaSchedule('ok', 'rate(5 minutes)', { GroupName: 'missing' }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    expect((await client.send(new ListSchedulesCommand({}))).Schedules).toEqual([]);
  });

  it('manages schedule groups; deleting a group deletes its schedules', async () => {
    const { client } = await startScheduler({ invoker: new FakeInvoker(), pollIntervalMs: 3_600_000 });
    const { ScheduleGroupArn } = await client.send(new CreateScheduleGroupCommand({ Name: 'crm' }));
    expect(ScheduleGroupArn).toBe('arn:aws:scheduler:us-east-1:000000000000:schedule-group/crm');
    await expect(client.send(new CreateScheduleGroupCommand({ Name: 'crm' }))).rejects.toBeInstanceOf(
      ConflictException,
    );
    expect(await client.send(new GetScheduleGroupCommand({ Name: 'crm' }))).toMatchObject({ State: 'ACTIVE' });

    await client.send(lambdaSchedule('in-group', 'rate(1 hour)', { GroupName: 'crm' }));
    await expect(client.send(new GetScheduleCommand({ Name: 'in-group' }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    const got = await client.send(new GetScheduleCommand({ Name: 'in-group', GroupName: 'crm' }));
    expect(got.Arn).toBe('arn:aws:scheduler:us-east-1:000000000000:schedule/crm/in-group');
    const listed = await client.send(new ListSchedulesCommand({ GroupName: 'crm' }));
    expect(listed.Schedules?.map((s) => s.Name)).toEqual(['in-group']);

    await expect(client.send(new DeleteScheduleGroupCommand({ Name: 'default' }))).rejects.toBeInstanceOf(
      ValidationException,
    );
    await client.send(new DeleteScheduleGroupCommand({ Name: 'crm' }));
    await expect(client.send(new GetScheduleGroupCommand({ Name: 'crm' }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    expect((await client.send(new ListSchedulesCommand({}))).Schedules).toEqual([]);
  });

  it('starts a state machine in the schedule time zone and deletes the schedule after (DELETE)', async () => {
    const clock = new Clock(T0);
    const startedExecutions: Array<{ arn: string; input: unknown }> = [];
    const executions: ExecutionStarter = {
      async startExecution(arn, input) {
        startedExecutions.push({ arn, input });
        return { executionArn: `${arn.replace(':stateMachine:', ':execution:')}:x` };
      },
    };
    const { scheduler, client } = await startScheduler({
      invoker: new FakeInvoker(),
      executions,
      now: clock.now,
      pollIntervalMs: 3_600_000,
    });
    // 06:00:30 in New York in January is 11:00:30 UTC.
    await client.send(
      new CreateScheduleCommand({
        Name: 'followup',
        ScheduleExpression: 'at(2030-01-15T06:00:30)',
        ScheduleExpressionTimezone: 'America/New_York',
        FlexibleTimeWindow: { Mode: 'OFF' },
        ActionAfterCompletion: 'DELETE',
        Target: { Arn: SM_ARN, RoleArn: ROLE_ARN, Input: '{"dealId":"d1"}' },
      }),
    );
    clock.t = Date.parse('2030-01-15T11:00:29Z');
    await scheduler.poll();
    expect(startedExecutions).toEqual([]);
    clock.t = Date.parse('2030-01-15T11:00:30Z');
    await scheduler.poll();
    expect(startedExecutions).toEqual([{ arn: SM_ARN, input: { dealId: 'd1' } }]);
    await expect(client.send(new GetScheduleCommand({ Name: 'followup' }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    expect(scheduler.list()).toEqual([]);
  });

  it('puts events on a bus target as aws.scheduler / Scheduled Event, and retries a failed delivery', async () => {
    const clock = new Clock(T0);
    const entries: Array<Parameters<EventPutter['putEvents']>[0][number]> = [];
    const events: EventPutter = {
      async putEvents(batch) {
        entries.push(...batch);
        return { failedEntryCount: 0, eventIds: batch.map(() => 'id') };
      },
    };
    const invoker = new FakeInvoker();
    invoker.failures = 1;
    const { scheduler, client } = await startScheduler({ invoker, events, now: clock.now, pollIntervalMs: 3_600_000 });
    await client.send(
      new CreateScheduleCommand({
        Name: 'to-bus',
        ScheduleExpression: at(T0 + 60_000),
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: {
          Arn: 'arn:aws:events:us-east-1:000000000000:event-bus/crm',
          RoleArn: ROLE_ARN,
          Input: '{"contactId":"c1"}',
        },
      }),
    );
    await client.send(lambdaSchedule('flaky', at(T0 + 60_000)));
    clock.advance(60_000);
    await scheduler.poll();
    expect(entries).toEqual([
      {
        Source: 'aws.scheduler',
        DetailType: 'Scheduled Event',
        Detail: '{"contactId":"c1"}',
        EventBusName: 'crm',
        Time: new Date(T0 + 60_000),
        Resources: ['arn:aws:scheduler:us-east-1:000000000000:schedule/default/to-bus'],
      },
    ]);
    expect(invoker.calls).toHaveLength(1);
    expect(scheduler.get('flaky')?.pending).toHaveLength(1);

    await scheduler.poll(); // the retry is not due yet
    expect(invoker.calls).toHaveLength(1);
    clock.advance(5_000);
    await scheduler.poll();
    expect(invoker.calls).toHaveLength(2);
    expect(scheduler.get('flaky')).toMatchObject({ pending: [], completedAt: expect.any(Number) });
    expect(entries).toHaveLength(1);
  });

  it('persists schedules across restarts and fires what came due while stopped, once', async () => {
    const clock = new Clock(T0);
    const invoker = new FakeInvoker();
    const first = await startScheduler({ invoker, now: clock.now, pollIntervalMs: 3_600_000 });
    await first.client.send(lambdaSchedule('one-time', at(T0 + HOUR)));
    await first.client.send(lambdaSchedule('hourly', 'rate(1 hour)', { StartDate: new Date(T0 + HOUR / 2) }));
    await first.client.send(lambdaSchedule('later', at(T0 + 10 * HOUR)));
    await first.scheduler.poll();
    expect(invoker.calls).toHaveLength(0);
    const file = join(dataDir, 'scheduler', 'schedules.json');
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file, 'utf8')).toContain('"one-time"');
    first.client.destroy();
    await first.scheduler.stop();
    started.splice(0);

    // Down for three hours: one-time and three hourly occurrences were missed.
    clock.advance(3 * HOUR);
    const second = await startScheduler({ invoker, now: clock.now, pollIntervalMs: 3_600_000 });
    await second.scheduler.poll();
    expect(invoker.calls.map((c) => (c.event as { reminderId: string }).reminderId).sort()).toEqual([
      'hourly',
      'one-time',
    ]);
    await second.scheduler.poll();
    expect(invoker.calls).toHaveLength(2);
    expect(second.scheduler.get('hourly')?.nextFireAt).toBe(T0 + 3.5 * HOUR);
    expect((await second.client.send(new ListSchedulesCommand({}))).Schedules).toHaveLength(3);
    second.client.destroy();
    await second.scheduler.stop();
    started.splice(0);

    // A restart does not fire the completed one-time schedule again.
    const third = await startScheduler({ invoker, now: clock.now, pollIntervalMs: 3_600_000 });
    await third.scheduler.poll();
    expect(invoker.calls).toHaveLength(2);
    clock.advance(HOUR);
    await third.scheduler.poll();
    expect(invoker.calls.map((c) => (c.event as { reminderId: string }).reminderId)).toEqual([
      expect.any(String),
      expect.any(String),
      'hourly',
    ]);
  });

  it('starts executions on the local Step Functions', async () => {
    const resolver = new TemplateResolver({
      Resources: {
        Followup: {
          Type: 'AWS::StepFunctions::StateMachine',
          Properties: {
            StateMachineName: 'followup',
            Definition: { StartAt: 'Done', States: { Done: { Type: 'Pass', End: true } } },
          },
        },
      },
    });
    const sfn = await LocalStepFunctions.start({
      resolver,
      invoker: new FakeInvoker(),
      waitTimeScale: 0,
      log: () => {},
    });
    try {
      const clock = new Clock(T0);
      const { scheduler, client } = await startScheduler({
        invoker: new FakeInvoker(),
        executions: sfn,
        now: clock.now,
        pollIntervalMs: 3_600_000,
      });
      const target = { Arn: SM_ARN, RoleArn: ROLE_ARN, Input: '{"dealId":"d2"}' };
      await client.send(
        new CreateScheduleCommand({
          Name: 'sfn',
          ScheduleExpression: at(T0 + 1000),
          FlexibleTimeWindow: { Mode: 'OFF' },
          Target: target,
        }),
      );
      await client.send(
        new CreateScheduleCommand({
          Name: 'missing-machine',
          ScheduleExpression: at(T0 + 1000),
          FlexibleTimeWindow: { Mode: 'OFF' },
          Target: { ...target, Arn: `${SM_ARN}-gone` },
        }),
      );
      clock.advance(1000);
      await scheduler.poll();
      const executions = sfn.listExecutions('followup');
      expect(executions).toHaveLength(1);
      const result = await sfn.waitForExecution(executions[0]!.executionArn, 10_000);
      expect(result).toMatchObject({ status: 'SUCCEEDED', output: { dealId: 'd2' } });
      // A state machine that does not exist is not retried.
      expect(scheduler.get('missing-machine')).toMatchObject({ pending: [], completedAt: expect.any(Number) });
    } finally {
      await sfn.stop();
    }
  });

  it('loads schedule groups and schedules declared in the template', async () => {
    const resolver = new TemplateResolver({
      Resources: {
        Group: { Type: 'AWS::Scheduler::ScheduleGroup', Properties: { Name: 'crm-reminders' } },
        Fn: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'reminder' } },
        Digest: {
          Type: 'AWS::Scheduler::Schedule',
          Properties: {
            Name: 'daily-digest',
            GroupName: { Ref: 'Group' },
            ScheduleExpression: 'cron(0 7 * * ? *)',
            FlexibleTimeWindow: { Mode: 'OFF' },
            Target: { Arn: { 'Fn::GetAtt': ['Fn', 'Arn'] }, RoleArn: ROLE_ARN },
          },
        },
      },
    });
    const clock = new Clock(T0);
    const { scheduler, client } = await startScheduler({
      invoker: new FakeInvoker(),
      resolver,
      now: clock.now,
      pollIntervalMs: 3_600_000,
    });
    const got = await client.send(new GetScheduleCommand({ Name: 'daily-digest', GroupName: 'crm-reminders' }));
    expect(got.Target?.Arn).toBe(FN_ARN);
    expect(scheduler.get('daily-digest', 'crm-reminders')?.nextFireAt).toBe(Date.parse('2030-01-16T07:00:00Z'));
  });
});

describe('schedule expressions', () => {
  const next = (expression: string, after: string, tz = 'UTC') => {
    const parsed = parseScheduleExpression(expression);
    if (parsed.kind !== 'cron') throw new Error('not cron');
    const t = nextCron(parsed.cron, Date.parse(after), tz);
    return t === undefined ? undefined : new Date(t).toISOString();
  };

  it('computes the next cron occurrence', () => {
    expect(next('cron(0/15 * * * ? *)', '2030-01-15T10:07:00Z')).toBe('2030-01-15T10:15:00.000Z');
    expect(next('cron(0/15 * * * ? *)', '2030-01-15T10:15:00Z')).toBe('2030-01-15T10:30:00.000Z');
    // Friday 10:00 in New York -> Monday 09:00 EST.
    expect(next('cron(0 9 ? * MON-FRI *)', '2030-01-18T15:00:00Z', 'America/New_York')).toBe(
      '2030-01-21T14:00:00.000Z',
    );
    // In July New York is on EDT (UTC-4).
    expect(next('cron(0 9 ? * MON-FRI *)', '2030-07-01T00:00:00Z', 'America/New_York')).toBe(
      '2030-07-01T13:00:00.000Z',
    );
    expect(next('cron(0 12 L * ? *)', '2030-02-01T00:00:00Z')).toBe('2030-02-28T12:00:00.000Z');
    expect(next('cron(0 8 ? * 6#3 *)', '2030-01-01T00:00:00Z')).toBe('2030-01-18T08:00:00.000Z');
    expect(next('cron(0 8 ? * 2L *)', '2030-01-01T00:00:00Z')).toBe('2030-01-28T08:00:00.000Z');
    expect(next('cron(30 6 15W * ? *)', '2030-06-01T00:00:00Z')).toBe('2030-06-14T06:30:00.000Z');
    expect(next('cron(0 0 1 JAN ? 2031)', '2030-01-01T00:00:00Z')).toBe('2031-01-01T00:00:00.000Z');
    expect(next('cron(0 0 1 JAN ? 2029)', '2030-01-01T00:00:00Z')).toBeUndefined();
  });

  it('parses at() and rate()', () => {
    expect(parseScheduleExpression('at(2030-01-15T06:00:30)')).toEqual({
      kind: 'at',
      wall: { year: 2030, month: 1, day: 15, hour: 6, minute: 0, second: 30 },
    });
    expect(parseScheduleExpression('rate(1 minute)')).toEqual({ kind: 'rate', periodMs: 60_000 });
    expect(parseScheduleExpression('rate(3 days)')).toEqual({ kind: 'rate', periodMs: 3 * 86_400_000 });
    expect(() => parseScheduleExpression('cron(0 9 ? * FOO *)')).toThrow(/Invalid Schedule Expression/);
  });
});
