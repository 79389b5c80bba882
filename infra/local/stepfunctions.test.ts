import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  ExecutionAlreadyExists,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loopbackOnly } from '../../test/support/net.ts';
import { DurableQueue } from './durable-queue.ts';
import { LocalStepFunctions } from './stepfunctions.ts';
import { TemplateResolver } from './template.ts';
import type { CfnTemplate, EventPutter, InvocationType, Invoker } from './types.ts';

/** A stand-in for the local Lambda runtime: functions by name, every call recorded. */
class FakeInvoker implements Invoker {
  readonly calls: Array<{ fn: string; event: unknown; type?: InvocationType }> = [];
  constructor(private readonly functions: Record<string, (event: unknown) => Promise<unknown> | unknown>) {}

  private key(ref: string): string {
    return ref.split(':').pop() ?? ref;
  }

  has(ref: string): boolean {
    return this.key(ref) in this.functions;
  }

  async invoke(ref: string, event: unknown, type?: InvocationType): Promise<unknown> {
    this.calls.push({ fn: this.key(ref), event, type });
    const fn = this.functions[this.key(ref)];
    if (!fn) throw new Error(`no function ${ref}`);
    return fn(event);
  }

  count(fn: string): number {
    return this.calls.filter((c) => c.fn === fn).length;
  }
}

class ValidationError extends Error {
  override name = 'ValidationError';
}

const lambda = (name: string) => ({
  Type: 'AWS::Lambda::Function',
  Properties: { FunctionName: name, Handler: 'index.handler', Runtime: 'nodejs22.x' },
});

const mainDefinition = (workerArn: unknown) => [
  '{"StartAt":"Invoke","States":{',
  '"Invoke":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",',
  '"Parameters":{"FunctionName":"',
  workerArn,
  '","Payload.$":"$"},"ResultSelector":{"value.$":"$.Payload.value","status.$":"$.StatusCode"},"Next":"Wait"},',
  '"Wait":{"Type":"Wait","Seconds":3600,"Next":"Check"},',
  '"Check":{"Type":"Choice","Choices":[{"Variable":"$.value","NumericGreaterThan":10,"Next":"Big"}],',
  '"Default":"Small"},',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a DefinitionSubstitutions placeholder
  '"Big":{"Type":"Task","Resource":"${FlakyArn}","Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":60,',
  '"MaxAttempts":2}],"ResultPath":"$.flaky","Next":"Announce"},',
  '"Announce":{"Type":"Task","Resource":"arn:aws:states:::events:putEvents","Parameters":{"Entries":[',
  '{"Source":"crm.test","DetailType":"Big","Detail":{"value.$":"$.value"},"EventBusName":"crm"}]},',
  '"ResultPath":null,"End":true},',
  '"Small":{"Type":"Pass","Result":"small","ResultPath":"$.size","End":true}}}',
];

const template: CfnTemplate = {
  Resources: {
    WorkerFn: lambda('worker'),
    FlakyFn: lambda('flaky'),
    BlockerFn: lambda('blocker'),
    FailingFn: lambda('failing'),
    Role: { Type: 'AWS::IAM::Role', Properties: { RoleName: 'sfn-role' } },
    MainMachine: {
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: {
        StateMachineName: 'main',
        RoleArn: { 'Fn::GetAtt': ['Role', 'Arn'] },
        DefinitionString: { 'Fn::Join': ['', mainDefinition({ 'Fn::GetAtt': ['WorkerFn', 'Arn'] })] },
        DefinitionSubstitutions: { FlakyArn: { 'Fn::GetAtt': ['FlakyFn', 'Arn'] } },
      },
    },
    BlockingMachine: {
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: {
        StateMachineName: 'blocking',
        Definition: {
          StartAt: 'Block',
          States: { Block: { Type: 'Task', Resource: { 'Fn::GetAtt': ['BlockerFn', 'Arn'] }, End: true } },
        },
      },
    },
    FailingMachine: {
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: {
        StateMachineName: 'failing',
        Definition: {
          StartAt: 'Fail',
          States: {
            Fail: {
              Type: 'Task',
              Resource: { 'Fn::GetAtt': ['FailingFn', 'Arn'] },
              Retry: [{ ErrorEquals: ['States.Timeout'], MaxAttempts: 5 }],
              End: true,
            },
          },
        },
      },
    },
    ParentMachine: {
      Type: 'AWS::StepFunctions::StateMachine',
      Properties: {
        StateMachineName: 'parent',
        Definition: {
          StartAt: 'Items',
          States: {
            Items: {
              Type: 'Map',
              ItemsPath: '$.items',
              ItemProcessor: {
                StartAt: 'Pause',
                States: {
                  Pause: { Type: 'Wait', SecondsPath: '$.delay', Next: 'Double' },
                  Double: {
                    Type: 'Task',
                    Resource: 'arn:aws:states:::lambda:invoke',
                    Parameters: { FunctionName: 'worker', 'Payload.$': '$' },
                    OutputPath: '$.Payload',
                    End: true,
                  },
                },
              },
              ResultPath: '$.mapped',
              Next: 'Child',
            },
            Child: {
              Type: 'Task',
              Resource: 'arn:aws:states:::states:startExecution.sync:2',
              Parameters: {
                StateMachineArn: { Ref: 'MainMachine' },
                Input: { 'n.$': '$.n' },
              },
              ResultSelector: { 'childOutput.$': '$.Output' },
              End: true,
            },
          },
        },
      },
    },
  },
};

describe('LocalStepFunctions', () => {
  const resolver = new TemplateResolver(template);
  let flakyFailures = 0;
  let releaseBlocker: (() => void) | undefined;
  const invoker = new FakeInvoker({
    worker: (event) => ({ value: (event as { n: number }).n * 2 }),
    flaky: () => {
      if (flakyFailures++ === 0) throw new Error('first call fails');
      return { ok: true };
    },
    blocker: () =>
      new Promise<{ released: boolean }>((resolve) => (releaseBlocker = () => resolve({ released: true }))),
    failing: () => {
      throw new ValidationError('bad contact');
    },
  });
  const putEvents: Parameters<EventPutter['putEvents']>[0][] = [];
  const events: EventPutter = {
    async putEvents(entries) {
      putEvents.push(entries);
      return { failedEntryCount: 0, eventIds: entries.map((_, i) => `event-${i}`) };
    },
  };
  const logs: string[] = [];
  let sfn: LocalStepFunctions;
  let client: SFNClient;
  const mainArn = resolver.ref('MainMachine');

  beforeAll(async () => {
    sfn = await LocalStepFunctions.start({ resolver, invoker, waitTimeScale: 0, log: (m) => logs.push(m) });
    // The local EventBridge starts after Step Functions (it targets it), so its putter is attached afterwards.
    sfn.setEventPutter(events);
    client = new SFNClient({
      endpoint: sfn.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });

  afterAll(async () => {
    client?.destroy();
    await sfn?.stop();
  });

  it('binds 127.0.0.1 and lists the template state machines', async () => {
    expect(sfn.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await loopbackOnly(Number(new URL(sfn.endpoint).port))).toBe(true);
    expect(logs.filter((m) => /unsupported|invalid/.test(m))).toEqual([]);
    const { stateMachines } = await client.send(new ListStateMachinesCommand({}));
    expect(stateMachines?.map((m) => m.name).sort()).toEqual(['blocking', 'failing', 'main', 'parent']);
    expect(mainArn).toBe('arn:aws:states:us-east-1:000000000000:stateMachine:main');

    const described = await client.send(new DescribeStateMachineCommand({ stateMachineArn: mainArn }));
    expect(described.roleArn).toBe('arn:aws:iam::000000000000:role/sfn-role');
    expect(described.definition).toContain('"FunctionName":"arn:aws:lambda:us-east-1:000000000000:function:worker"');
    expect(described.definition).toContain('"Resource":"arn:aws:lambda:us-east-1:000000000000:function:flaky"');
    expect(described.creationDate).toBeInstanceOf(Date);
  });

  it('runs lambda:invoke, a scaled 1-hour Wait, a Choice, a Retry and putEvents over the SDK', async () => {
    const { executionArn, startDate } = await client.send(
      new StartExecutionCommand({ stateMachineArn: mainArn, name: 'big-one', input: JSON.stringify({ n: 20 }) }),
    );
    expect(executionArn).toBe('arn:aws:states:us-east-1:000000000000:execution:main:big-one');
    expect(startDate).toBeInstanceOf(Date);

    const result = await sfn.waitForExecution(executionArn!, 20_000);
    expect(result).toMatchObject({ status: 'SUCCEEDED' });
    // ResultSelector saw the optimized integration's shape: {Payload, StatusCode}.
    expect(result.output).toEqual({ value: 40, status: 200, flaky: { ok: true } });
    expect(invoker.count('worker')).toBe(1);
    expect(invoker.calls.find((c) => c.fn === 'worker')?.event).toEqual({ n: 20 });
    expect(invoker.count('flaky')).toBe(2); // failed once, retried once
    expect(putEvents).toEqual([[expect.objectContaining({ Source: 'crm.test', Detail: '{"value":40}' })]]);
    expect(putEvents[0]?.[0]?.EventBusName).toBe('crm');

    const described = await client.send(new DescribeExecutionCommand({ executionArn }));
    expect(described.status).toBe('SUCCEEDED');
    expect(JSON.parse(described.output!)).toEqual(result.output);
    expect(described.stopDate).toBeInstanceOf(Date);

    const { events: history } = await client.send(new GetExecutionHistoryCommand({ executionArn }));
    const types = history?.map((e) => e.type);
    expect(types?.[0]).toBe('ExecutionStarted');
    expect(types).toContain('WaitStateEntered');
    expect(types).toContain('ChoiceStateExited');
    expect(types).toContain('TaskFailed');
    expect(types?.at(-1)).toBe('ExecutionSucceeded');
  });

  it('takes the Choice default branch', async () => {
    const { executionArn } = await sfn.startExecution(mainArn, { n: 3 });
    const result = await sfn.waitForExecution(executionArn, 20_000);
    expect(result).toMatchObject({ status: 'SUCCEEDED', output: { value: 6, status: 200, size: 'small' } });
  });

  it('rejects a reused execution name with ExecutionAlreadyExists, and unknown machines', async () => {
    await expect(
      client.send(new StartExecutionCommand({ stateMachineArn: mainArn, name: 'big-one', input: '{"n":1}' })),
    ).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    await expect(
      client.send(new StartExecutionCommand({ stateMachineArn: `${mainArn}-nope`, input: '{}' })),
    ).rejects.toBeInstanceOf(StateMachineDoesNotExist);
    await expect(
      client.send(new StartExecutionCommand({ stateMachineArn: mainArn, input: 'not json' })),
    ).rejects.toMatchObject({ name: 'InvalidExecutionInput' });
  });

  it('is idempotent for a running execution, and StopExecution aborts it', async () => {
    const stateMachineArn = sfn.stateMachineArn('BlockingMachine');
    const start = () => client.send(new StartExecutionCommand({ stateMachineArn, name: 'held', input: '{"a":1}' }));
    const first = await start();
    const again = await start();
    expect(again.executionArn).toBe(first.executionArn);
    await expect(
      client.send(new StartExecutionCommand({ stateMachineArn, name: 'held', input: '{"a":2}' })),
    ).rejects.toBeInstanceOf(ExecutionAlreadyExists);

    const running = await client.send(new DescribeExecutionCommand({ executionArn: first.executionArn }));
    expect(running.status).toBe('RUNNING');
    const listed = await client.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING' }));
    expect(listed.executions?.map((e) => e.name)).toEqual(['held']);

    await client.send(new StopExecutionCommand({ executionArn: first.executionArn, error: 'Manual', cause: 'test' }));
    const stopped = await sfn.waitForExecution(first.executionArn!, 10_000);
    expect(stopped).toMatchObject({ status: 'ABORTED', error: 'Manual', cause: 'test' });
    releaseBlocker?.();
  });

  it('fails an execution with the Lambda error type and its JSON cause', async () => {
    const { executionArn } = await sfn.startExecution('failing', {});
    const result = await sfn.waitForExecution(executionArn, 10_000);
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('ValidationError');
    expect(JSON.parse(result.cause!)).toMatchObject({ errorType: 'ValidationError', errorMessage: 'bad contact' });
    const described = await client.send(new DescribeExecutionCommand({ executionArn }));
    expect(described).toMatchObject({ status: 'FAILED', error: 'ValidationError' });
  });

  it('runs Map iterations with path-based Waits and a nested startExecution.sync:2', async () => {
    const before = invoker.count('worker');
    const { executionArn } = await sfn.startExecution('parent', {
      n: 7,
      items: [
        { n: 1, delay: 86_400 },
        { n: 2, delay: 5 },
      ],
    });
    const result = await sfn.waitForExecution(executionArn, 20_000);
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toEqual({ childOutput: { value: 14, status: 200, flaky: { ok: true } } });
    expect(invoker.count('worker') - before).toBe(3);
    const children = await client.send(new ListExecutionsCommand({ stateMachineArn: mainArn }));
    expect(children.executions?.length).toBe(3);
  });
});

describe('LocalStepFunctions wait scaling', () => {
  it('scales Wait durations instead of skipping them', async () => {
    const resolver = new TemplateResolver({
      Resources: {
        Sleepy: {
          Type: 'AWS::StepFunctions::StateMachine',
          Properties: {
            StateMachineName: 'sleepy',
            Definition: { StartAt: 'Nap', States: { Nap: { Type: 'Wait', Seconds: 200, End: true } } },
          },
        },
      },
    });
    const sfn = await LocalStepFunctions.start({
      resolver,
      invoker: new FakeInvoker({}),
      waitTimeScale: 0.001,
      log: () => {},
    });
    try {
      const started = Date.now();
      const { executionArn } = await sfn.startExecution('sleepy', { keep: true });
      const result = await sfn.waitForExecution(executionArn, 20_000);
      expect(result).toMatchObject({ status: 'SUCCEEDED', output: { keep: true } });
      // 200 s scaled by 0.001: at least ~200 ms (only a lower bound, so machine speed does not matter).
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    } finally {
      await sfn.stop();
    }
  });

  it('stop() aborts running executions', async () => {
    const resolver = new TemplateResolver({
      Resources: {
        Long: {
          Type: 'AWS::StepFunctions::StateMachine',
          Properties: {
            StateMachineName: 'long',
            Definition: { StartAt: 'Nap', States: { Nap: { Type: 'Wait', Seconds: 3600, End: true } } },
          },
        },
      },
    });
    const sfn = await LocalStepFunctions.start({ resolver, invoker: new FakeInvoker({}), log: () => {} });
    const { executionArn } = await sfn.startExecution('long', {});
    expect(sfn.describe(executionArn).status).toBe('RUNNING');
    await sfn.stop();
    expect(sfn.describe(executionArn).status).toBe('ABORTED');
  });
});

describe('LocalStepFunctions journal', () => {
  const resolver = new TemplateResolver({
    Resources: {
      Step: lambda('step'),
      Machine: {
        Type: 'AWS::StepFunctions::StateMachine',
        Properties: {
          StateMachineName: 'journaled',
          Definition: {
            StartAt: 'Step',
            States: { Step: { Type: 'Task', Resource: { 'Fn::GetAtt': ['Step', 'Arn'] }, End: true } },
          },
        },
      },
    },
  });

  it('keeps a started execution across a stop and runs it again from its start, then forgets it once it ended', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sfn-journal-'));
    try {
      // First run: the step never answers (the process is about to die).
      const hanging = new FakeInvoker({ step: () => new Promise(() => {}) });
      const first = await LocalStepFunctions.start({ resolver, invoker: hanging, dataDir, log: () => {} });
      const { executionArn } = await first.startExecution('journaled', { ticketId: 't-1' }, 'ticket-t-1');
      expect(await DurableQueue.pendingIn(join(dataDir, 'executions'))).toHaveLength(1);
      await first.stop();
      expect(await DurableQueue.pendingIn(join(dataDir, 'executions'))).toHaveLength(1);

      // Next start: the same execution (name, input) runs again, to the end.
      const working = new FakeInvoker({ step: (event) => ({ done: (event as { ticketId: string }).ticketId }) });
      const second = await LocalStepFunctions.start({ resolver, invoker: working, dataDir, log: () => {} });
      try {
        expect(second.resumePending()).toBe(1);
        expect(second.resumePending()).toBe(0);
        const result = await second.waitForExecution(executionArn, 10_000);
        expect(result).toMatchObject({ status: 'SUCCEEDED', output: { done: 't-1' } });
        expect(working.calls.map((c) => c.event)).toEqual([{ ticketId: 't-1' }]);
      } finally {
        await second.stop();
      }
      // It ended: nothing is left to resume.
      await expect.poll(() => DurableQueue.pendingIn(join(dataDir, 'executions'))).toEqual([]);
      const third = await LocalStepFunctions.start({ resolver, invoker: working, dataDir, log: () => {} });
      expect(third.resumePending()).toBe(0);
      await third.stop();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
