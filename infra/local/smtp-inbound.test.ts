import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { SESEvent } from 'aws-lambda';
import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useFreshTable } from '../../test/support/table.ts';
import { LOCAL_CREDENTIALS } from './dynamodb-local.ts';
import { LocalS3 } from './s3.ts';
import { activeRules, LocalSmtpInbound, localVerdictsOf, matchesRecipient } from './smtp-inbound.ts';
import { TemplateResolver } from './template.ts';
import type { CfnTemplate, InvocationType, Invoker } from './types.ts';

const INBOUND_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:crm-inbound-mail';
const FILTER_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:list-filter';

// Rules are listed out of order on purpose: SES order comes from the `After` chain (store -> filter -> archive).
const template: CfnTemplate = {
  Resources: {
    InboundBucket: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'crm-inbound-mail' } },
    InboundFn: {
      Type: 'AWS::Lambda::Function',
      Properties: { FunctionName: 'crm-inbound-mail', Handler: 'index.handler', Runtime: 'nodejs22.x' },
    },
    FilterFn: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'list-filter' } },
    RuleSet: { Type: 'AWS::SES::ReceiptRuleSet', Properties: { RuleSetName: 'crm-inbound' } },
    ArchiveRule: {
      Type: 'AWS::SES::ReceiptRule',
      Properties: {
        RuleSetName: { Ref: 'RuleSet' },
        After: { Ref: 'FilterRule' },
        Rule: {
          Name: 'archive',
          Enabled: true,
          Recipients: ['.lists.example'],
          Actions: [{ S3Action: { BucketName: { Ref: 'InboundBucket' }, ObjectKeyPrefix: 'lists/' } }],
        },
      },
    },
    FilterRule: {
      Type: 'AWS::SES::ReceiptRule',
      Properties: {
        RuleSetName: { Ref: 'RuleSet' },
        After: { Ref: 'StoreRule' },
        Rule: {
          Name: 'filter',
          Enabled: true,
          Recipients: ['.lists.example'],
          Actions: [
            { AddHeaderAction: { HeaderName: 'X-Crm-List', HeaderValue: 'yes' } },
            { LambdaAction: { FunctionArn: { 'Fn::GetAtt': ['FilterFn', 'Arn'] }, InvocationType: 'RequestResponse' } },
          ],
        },
      },
    },
    DisabledRule: {
      Type: 'AWS::SES::ReceiptRule',
      Properties: {
        RuleSetName: { Ref: 'RuleSet' },
        Rule: { Name: 'disabled', Enabled: false, Recipients: ['disabled.example'], Actions: [] },
      },
    },
    StoreRule: {
      Type: 'AWS::SES::ReceiptRule',
      Properties: {
        RuleSetName: { Ref: 'RuleSet' },
        Rule: {
          Name: 'store-and-process',
          Enabled: true,
          ScanEnabled: true,
          TlsPolicy: 'Optional',
          Recipients: ['inbox@crm.example', 'support.crm.example'],
          Actions: [
            { S3Action: { BucketName: { Ref: 'InboundBucket' }, ObjectKeyPrefix: 'inbound/' } },
            { LambdaAction: { FunctionArn: { 'Fn::GetAtt': ['InboundFn', 'Arn'] }, InvocationType: 'Event' } },
          ],
        },
      },
    },
  },
};

/** Stands in for the local Lambda runtime (a separate component): records every invocation. */
class RecordingInvoker implements Invoker {
  readonly calls: Array<{ functionRef: string; event: SESEvent; invocationType: InvocationType | undefined }> = [];

  constructor(private readonly functions: Record<string, (event: SESEvent) => unknown>) {}

  has(functionRef: string): boolean {
    return functionRef in this.functions;
  }

  async invoke(functionRef: string, event: unknown, invocationType?: InvocationType): Promise<unknown> {
    const fn = this.functions[functionRef];
    if (!fn) throw new Error(`ResourceNotFoundException: ${functionRef}`);
    this.calls.push({ functionRef, event: event as SESEvent, invocationType });
    return fn(event as SESEvent);
  }
}

describe('LocalSmtpInbound', () => {
  let dataDir: string;
  let s3: LocalS3;
  let inbound: LocalSmtpInbound;
  let s3Client: S3Client;
  const resolver = new TemplateResolver(template);
  const invoker = new RecordingInvoker({
    [INBOUND_ARN]: () => undefined,
    // A list filter that stops the rule set for messages whose subject says so.
    [FILTER_ARN]: (event) =>
      event.Records[0]?.ses.mail.commonHeaders.subject?.includes('[stop]')
        ? { disposition: 'STOP_RULE_SET' }
        : { disposition: 'CONTINUE' },
  });
  const logs: string[] = [];

  const transport = () =>
    nodemailer.createTransport({ host: '127.0.0.1', port: inbound.port, secure: false, ignoreTLS: true });

  const compose = (options: ConstructorParameters<typeof MailComposer>[0]) =>
    new MailComposer(options).compile().build();

  const readObject = async (key: string) => {
    const got = await s3Client.send(new GetObjectCommand({ Bucket: 'crm-inbound-mail', Key: key }));
    return Buffer.from(await got.Body!.transformToByteArray());
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'local-smtp-'));
    s3 = await LocalS3.start({ resolver, dataDir });
    inbound = await LocalSmtpInbound.start({
      resolver,
      invoker,
      s3Endpoint: s3.endpoint,
      maxMessageBytes: 256 * 1024,
      log: (line) => logs.push(line),
    });
    s3Client = new S3Client({
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: LOCAL_CREDENTIALS,
    });
  });

  afterAll(async () => {
    s3Client?.destroy();
    await inbound?.stop();
    await s3?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('orders the rules of the active rule set by their After chain', () => {
    expect(activeRules(resolver, undefined, () => {}).map((r) => r.name)).toEqual([
      'disabled',
      'store-and-process',
      'filter',
      'archive',
    ]);
  });

  it('matches recipients like SES: address, domain without subdomains, .domain for subdomains', () => {
    expect(matchesRecipient('Inbox@CRM.example', ['inbox@crm.example'])).toBe(true);
    expect(matchesRecipient('other@crm.example', ['inbox@crm.example'])).toBe(false);
    expect(matchesRecipient('a@support.crm.example', ['support.crm.example'])).toBe(true);
    expect(matchesRecipient('a@eu.support.crm.example', ['support.crm.example'])).toBe(false);
    expect(matchesRecipient('a@news.lists.example', ['.lists.example'])).toBe(true);
    expect(matchesRecipient('a@lists.example', ['.lists.example'])).toBe(false);
    expect(matchesRecipient('anyone@anywhere.example', [])).toBe(true);
  });

  it('stores the raw MIME in S3 and invokes the Lambda with the SES event', async () => {
    const raw = await compose({
      from: 'Ada Lovelace <ada@example.org>',
      to: 'CRM Inbox <inbox@crm.example>',
      cc: '"Doe, John" <john@example.org>',
      subject: 'Quote request',
      messageId: '<quote-1@example.org>',
      date: new Date('2026-01-02T03:04:05Z'),
      text: 'Hello, I would like a quote.',
    });
    const info = await transport().sendMail({
      envelope: { from: 'bounces@example.org', to: ['inbox@crm.example'] },
      raw,
    });
    const messageId = /^250 Ok ([0-9a-v]{40})$/.exec(info.response)?.[1];
    expect(messageId, info.response).toBeDefined();

    const delivery = await inbound.waitForDelivery((d) => d.messageId === messageId);
    expect(delivery.ok).toBe(true);
    expect(delivery.rules.map((r) => r.rule)).toEqual(['store-and-process']);

    // SES prepends its trace headers, then the message exactly as received.
    const stored = await readObject(`inbound/${messageId}`);
    expect(stored.subarray(stored.length - raw.length).equals(raw)).toBe(true);
    const trace = stored.subarray(0, stored.length - raw.length).toString();
    expect(trace).toMatch(/^Return-Path: <bounces@example\.org>\r\nReceived: from /);
    expect(trace).toContain('X-SES-Spam-Verdict: PASS');

    const call = invoker.calls.find((c) => c.event.Records[0]?.ses.mail.messageId === messageId);
    expect(call?.functionRef).toBe(INBOUND_ARN);
    expect(call?.invocationType).toBe('Event');
    const event = call!.event;
    expect(event.Records).toHaveLength(1);
    const record = event.Records[0]!;
    expect(record.eventSource).toBe('aws:ses');
    expect(record.eventVersion).toBe('1.0');
    const { mail, receipt } = record.ses;
    expect(mail).toMatchObject({
      source: 'bounces@example.org',
      messageId,
      destination: ['inbox@crm.example'],
      headersTruncated: false,
      commonHeaders: {
        returnPath: 'bounces@example.org',
        from: ['Ada Lovelace <ada@example.org>'],
        to: ['CRM Inbox <inbox@crm.example>'],
        cc: ['"Doe, John" <john@example.org>'],
        messageId: '<quote-1@example.org>',
        subject: 'Quote request',
        date: 'Fri, 02 Jan 2026 03:04:05 +0000',
      },
    });
    expect(new Date(mail.timestamp).toISOString()).toBe(mail.timestamp);
    const headerNames = mail.headers.map((h) => h.name);
    expect(headerNames.slice(0, 4)).toEqual(['Return-Path', 'Received', 'X-SES-Spam-Verdict', 'X-SES-Virus-Verdict']);
    expect(mail.headers).toContainEqual({ name: 'Subject', value: 'Quote request' });
    expect(mail.headers).toContainEqual({ name: 'Message-ID', value: '<quote-1@example.org>' });
    expect(receipt).toMatchObject({
      timestamp: mail.timestamp,
      recipients: ['inbox@crm.example'],
      spamVerdict: { status: 'PASS' },
      virusVerdict: { status: 'PASS' },
      spfVerdict: { status: 'PASS' },
      dkimVerdict: { status: 'PASS' },
      dmarcVerdict: { status: 'PASS' },
      action: { type: 'Lambda', functionArn: INBOUND_ARN, invocationType: 'Event' },
    });
    expect(receipt.processingTimeMillis).toBeGreaterThanOrEqual(0);
    // The body is not in the event: handlers read it from S3.
    expect(JSON.stringify(event)).not.toContain('I would like a quote');
  });

  it('refuses recipients no enabled rule covers with 550, at RCPT time', async () => {
    const raw = await compose({ from: 'x@example.org', to: 'nobody@elsewhere.example', subject: 's', text: 't' });
    await expect(
      transport().sendMail({ envelope: { from: 'x@example.org', to: ['nobody@elsewhere.example'] }, raw }),
    ).rejects.toMatchObject({ responseCode: 550 });
    for (const refused of ['someone@disabled.example', 'owner@lists.example', 'a@eu.support.crm.example']) {
      await expect(transport().sendMail({ envelope: { from: 'x@example.org', to: [refused] }, raw })).rejects.toThrow(
        /550/,
      );
    }
  });

  it('accepts the covered recipients of a mixed envelope and reports only those', async () => {
    const raw = await compose({ from: 'x@example.org', to: 'help@support.crm.example', subject: 'mixed', text: 't' });
    const info = await transport().sendMail({
      envelope: { from: 'x@example.org', to: ['help@support.crm.example', 'stranger@other.example'] },
      raw,
    });
    expect(info.accepted).toEqual(['help@support.crm.example']);
    expect(info.rejected).toEqual(['stranger@other.example']);
    const messageId = info.response.split(' ').pop();
    const delivery = await inbound.waitForDelivery((d) => d.messageId === messageId);
    expect(delivery.destination).toEqual(['help@support.crm.example']);
    expect(delivery.rules[0]?.recipients).toEqual(['help@support.crm.example']);
  });

  it('plays later rules: AddHeader, a RequestResponse Lambda, and its STOP_RULE_SET disposition', async () => {
    const send = async (subject: string) => {
      const raw = await compose({ from: 'list@example.org', to: 'crm@news.lists.example', subject, text: 'news' });
      const info = await transport().sendMail({
        envelope: { from: 'list@example.org', to: ['crm@news.lists.example'] },
        raw,
      });
      const messageId = info.response.split(' ').pop()!;
      return inbound.waitForDelivery((d) => d.messageId === messageId);
    };

    const kept = await send('Weekly news');
    expect(kept.ok).toBe(true);
    expect(kept.rules.map((r) => r.rule)).toEqual(['filter', 'archive']);
    const filterCall = invoker.calls.find((c) => c.event.Records[0]?.ses.mail.messageId === kept.messageId);
    expect(filterCall?.functionRef).toBe(FILTER_ARN);
    expect(filterCall?.invocationType).toBe('RequestResponse');
    const { mail, receipt } = filterCall!.event.Records[0]!.ses;
    expect(mail.headers[0]).toEqual({ name: 'X-Crm-List', value: 'yes' });
    // This rule does not scan, so SES reports the scans as disabled and adds no verdict headers.
    expect(receipt.spamVerdict).toEqual({ status: 'DISABLED' });
    expect(mail.headers.map((h) => h.name)).not.toContain('X-SES-Spam-Verdict');
    const archived = (await readObject(`lists/${kept.messageId}`)).toString();
    expect(archived.startsWith('X-Crm-List: yes\r\nReturn-Path: <list@example.org>\r\n')).toBe(true);

    const stopped = await send('[stop] unsubscribe');
    expect(stopped.rules.map((r) => r.rule)).toEqual(['filter']);
    const listed = await s3Client.send(new ListObjectsV2Command({ Bucket: 'crm-inbound-mail', Prefix: 'lists/' }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual([`lists/${kept.messageId}`]);
  });

  it('rejects a message over the size limit with 552', async () => {
    const raw = await compose({
      from: 'x@example.org',
      to: 'inbox@crm.example',
      subject: 'big',
      text: 'x'.repeat(300 * 1024),
    });
    const before = inbound.deliveries.length;
    await expect(
      transport().sendMail({ envelope: { from: 'x@example.org', to: ['inbox@crm.example'] }, raw }),
    ).rejects.toMatchObject({ responseCode: 552 });
    await inbound.idle();
    expect(inbound.deliveries.length).toBe(before);
  });

  it('records a failed action and keeps going', async () => {
    const noBucket = new TemplateResolver({
      Resources: {
        ...template.Resources,
        InboundBucket: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'missing-bucket' } },
      },
    });
    const other = await LocalSmtpInbound.start({ resolver: noBucket, invoker, s3Endpoint: s3.endpoint, log: () => {} });
    try {
      const raw = await compose({ from: 'x@example.org', to: 'inbox@crm.example', subject: 'lost', text: 't' });
      const info = await nodemailer
        .createTransport({ host: '127.0.0.1', port: other.port, secure: false, ignoreTLS: true })
        .sendMail({ envelope: { from: 'x@example.org', to: ['inbox@crm.example'] }, raw });
      const delivery = await other.waitForDelivery();
      expect(info.response).toContain(delivery.messageId);
      expect(delivery.ok).toBe(false);
      const [s3Action, lambdaAction] = delivery.rules[0]?.actions ?? [];
      expect(s3Action).toMatchObject({ type: 'S3', bucketName: 'missing-bucket' });
      expect(s3Action?.error).toBeTruthy();
      // A failed action ends its rule, as the Lambda would otherwise look for an object that is not there.
      expect(lambdaAction).toBeUndefined();
    } finally {
      await other.stop();
    }
  });
});

describe('LocalSmtpInbound with mailboxes (the local cloud wiring)', () => {
  let dataDir: string;
  let s3: LocalS3;
  let inbound: LocalSmtpInbound;
  const resolver = new TemplateResolver(template);
  const invoker = new RecordingInvoker({ [INBOUND_ARN]: () => undefined, [FILTER_ARN]: () => undefined });
  const declared = 'help@support.crm.example';
  const tenantId = `smtp-${Date.now().toString(36)}`;

  beforeAll(async () => {
    const { tableName, endpoint } = await useFreshTable();
    // As infra/local/cloud.ts does: the same claim lookup as the inbound function, against DynamoDB Local.
    const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
    const { DynamoDBDocumentClient } = await import('@aws-sdk/lib-dynamodb');
    const { createModel } = await import('../../shared/db/model.ts');
    const { mailboxResolver } = await import('../../shared/mailboxes/resolve.ts');
    const client = DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS }),
    );
    const ownerOf = mailboxResolver(createModel({ table: tableName, client }));
    const { createMailbox } = await import('../../shared/mailboxes/service.ts');
    await createMailbox(
      { tenantId, userId: 'admin', roles: ['admin'] },
      { address: declared, name: 'Help', defaultPriority: 'normal', verdictPolicy: {} },
    );
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'local-smtp-mailboxes-'));
    s3 = await LocalS3.start({ resolver, dataDir });
    inbound = await LocalSmtpInbound.start({
      resolver,
      invoker,
      s3Endpoint: s3.endpoint,
      verdicts: { spf: 'GRAY' },
      acceptRecipient: async (address) => (await ownerOf(address)) !== undefined,
      log: () => {},
    });
  });

  afterAll(async () => {
    await inbound?.stop();
    await s3?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const transport = () =>
    nodemailer.createTransport({ host: '127.0.0.1', port: inbound.port, secure: false, ignoreTLS: true });
  const compose = (options: ConstructorParameters<typeof MailComposer>[0]) =>
    new MailComposer(options).compile().build();

  it('answers 550 5.1.1 for an address no mailbox owns, even where a receipt rule covers it', async () => {
    const raw = await compose({ from: 'x@example.org', to: 'nobody@support.crm.example', subject: 's', text: 't' });
    await expect(
      transport().sendMail({ envelope: { from: 'x@example.org', to: ['nobody@support.crm.example'] }, raw }),
    ).rejects.toMatchObject({ responseCode: 550, response: expect.stringContaining('5.1.1') });
    // A declared address outside every receipt rule is refused too: both must hold.
    await expect(
      transport().sendMail({ envelope: { from: 'x@example.org', to: ['help@elsewhere.example'] }, raw }),
    ).rejects.toMatchObject({ responseCode: 550 });
  });

  it('accepts a declared address, in any case and with a +tag, beside a refused one', async () => {
    const raw = await compose({ from: 'x@example.org', to: declared, subject: 'Order', text: 't' });
    const tagged = 'Help+T-1042@support.crm.example';
    const info = await transport().sendMail({
      envelope: { from: 'x@example.org', to: [tagged, 'nobody@support.crm.example'] },
      raw,
    });
    expect(info.accepted).toEqual([tagged]);
    expect(info.rejected).toEqual(['nobody@support.crm.example']);
    const delivery = await inbound.waitForDelivery((d) => d.destination.includes(tagged));
    expect(delivery.ok).toBe(true);
    expect(delivery.destination).toEqual([tagged]);
  });

  it('takes per-message verdicts from X-Local-Verdicts (local only), over the configured ones', async () => {
    const raw = await compose({
      from: 'x@example.org',
      to: declared,
      subject: 'Verdicts',
      headers: { 'X-Local-Verdicts': 'spam=FAIL, dkim=fail; virus=BOGUS nonsense' },
      text: 't',
    });
    const info = await transport().sendMail({ envelope: { from: 'x@example.org', to: [declared] }, raw });
    const messageId = info.response.split(' ').pop();
    await inbound.waitForDelivery((d) => d.messageId === messageId);
    const call = invoker.calls.find((c) => c.event.Records[0]!.ses.mail.messageId === messageId)!;
    const { receipt } = call.event.Records[0]!.ses;
    expect({
      spam: receipt.spamVerdict.status,
      virus: receipt.virusVerdict.status,
      spf: receipt.spfVerdict.status,
      dkim: receipt.dkimVerdict.status,
      dmarc: receipt.dmarcVerdict.status,
    }).toEqual({ spam: 'FAIL', virus: 'PASS', spf: 'GRAY', dkim: 'FAIL', dmarc: 'PASS' });
    // Only the header section counts.
    expect(localVerdictsOf(Buffer.from('Subject: x\r\n\r\nX-Local-Verdicts: virus=FAIL\r\n'))).toEqual({});
    expect(localVerdictsOf(Buffer.from('x-local-verdicts: virus=fail\r\n\r\n'))).toEqual({ virus: 'FAIL' });
  });
});
