import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readCrmContext, STACK_ID } from './app.ts';
import type { CfnTemplate } from './local/types.ts';
import { type SynthesizedStack, synthesize } from './synth.ts';

/** An App without an outdir makes a `cdk.out*` folder in the temp dir and never removes it: give it one, then remove it. */
const contextOf = (context: Record<string, unknown>) => {
  const outdir = mkdtempSync(join(tmpdir(), 'crm-context-'));
  try {
    return readCrmContext(new App({ context, outdir }));
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
};

describe('context parameters', () => {
  it('default to a local origin and moderate throttling, with no mail addresses', () => {
    expect(contextOf({})).toEqual({
      allowedOrigins: ['http://localhost:3000'],
      throttleRateLimit: 100,
      throttleBurstLimit: 200,
    });
  });

  it('accept comma lists and numbers as the CLI passes them (strings), or as cdk.json holds them', () => {
    const context = contextOf({
      allowedOrigins: 'https://app.example.com, http://localhost:5173',
      inboundRecipients: 'support@example.com,.mail.example.org',
      senderEmail: 'crm@example.com',
      throttleRateLimit: '20',
      throttleBurstLimit: 40,
    });
    expect(context).toEqual({
      allowedOrigins: ['https://app.example.com', 'http://localhost:5173'],
      inboundRecipients: ['support@example.com', '.mail.example.org'],
      senderEmail: 'crm@example.com',
      throttleRateLimit: 20,
      throttleBurstLimit: 40,
    });
    expect(contextOf({ allowedOrigins: ['https://a.example.com'] }).allowedOrigins).toEqual(['https://a.example.com']);
  });

  it('fail fast naming every bad parameter', () => {
    const read = () =>
      contextOf({
        allowedOrigins: 'https://app.example.com/path',
        senderEmail: 'not-an-address',
        inboundRecipients: 'support@',
        throttleRateLimit: '-1',
        throttleBurstLimit: 'lots',
      });
    expect(read).toThrow(/invalid CDK context/);
    for (const name of [
      'allowedOrigins',
      'senderEmail',
      'inboundRecipients',
      'throttleRateLimit',
      'throttleBurstLimit',
    ]) {
      expect(read).toThrow(new RegExp(`${name}(\\.\\d+)?:`));
    }
  });
});

describe('synthesize() with the default context', () => {
  let outdir: string;
  let result: SynthesizedStack;
  let template: CfnTemplate;
  const noise: string[] = [];

  beforeAll(async () => {
    outdir = mkdtempSync(join(tmpdir(), 'crm-synth-test-'));
    const capture = (chunk: unknown) => {
      noise.push(String(chunk));
      return true;
    };
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    try {
      result = await synthesize({ outdir, bundle: false });
    } finally {
      stderr.mockRestore();
      stdout.mockRestore();
    }
    template = result.template;
  });

  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  const ofType = (type: string) => Object.values(template.Resources).filter((r) => r.Type === type);

  it('is silent and names the stack and the assembly', () => {
    expect(noise).toEqual([]);
    expect(result.stackName).toBe(STACK_ID);
    expect(result.assemblyDir).toBe(outdir);
  });

  it('keeps asset metadata on every function, for the local cloud', () => {
    const functions = ofType('AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThan(0);
    for (const fn of functions) expect(fn.Metadata?.['aws:asset:path']).toBeTypeOf('string');
  });

  it('creates the receipt rule set but does not activate it without inbound recipients', () => {
    expect(ofType('AWS::SES::ReceiptRule')).toHaveLength(1);
    const rule = ofType('AWS::SES::ReceiptRule')[0]!.Properties as { Rule: Record<string, unknown> };
    expect(rule.Rule.Recipients).toBeUndefined();
    expect(ofType('Custom::AWS')).toEqual([]);
  });

  it('adds no sender identity or output without senderEmail', () => {
    expect(ofType('AWS::SES::EmailIdentity')).toEqual([]);
    expect(template.Outputs?.SenderEmail).toBeUndefined();
  });

  it('allows the local origin and throttles with the defaults', () => {
    const api = ofType('AWS::ApiGatewayV2::Api')[0]!.Properties as { CorsConfiguration: { AllowOrigins: string[] } };
    expect(api.CorsConfiguration.AllowOrigins).toEqual(['http://localhost:3000']);
    const stage = ofType('AWS::ApiGatewayV2::Stage')[0]!.Properties as { DefaultRouteSettings: unknown };
    expect(stage.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 });
  });
});
