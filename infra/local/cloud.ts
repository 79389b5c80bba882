import { createHash, randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createModel } from '../../shared/db/model.ts';
import { mailboxResolver } from '../../shared/mailboxes/resolve.ts';
import { PROJECT_ROOT } from '../constructs/crm-function.ts';
import { type SynthesizeOptions, synthesize } from '../synth.ts';
import { LocalCognito } from './cognito.ts';
import { mintUserToken } from './cognito-token.ts';
import { DynamoDbLocal, LOCAL_CREDENTIALS } from './dynamodb-local.ts';
import { LocalStreamPoller } from './dynamodb-streams.ts';
import { LocalEventBridge } from './eventbridge.ts';
import { LocalHttpApi } from './http-api.ts';
import { type LocalCloudInfo, LocalIssuer, writeLocalCloudInfo } from './issuer.ts';
import { LambdaRuntime } from './lambda-runtime.ts';
import { PortReservation } from './ports.ts';
import { LocalS3 } from './s3.ts';
import { LocalScheduler } from './scheduler.ts';
import { configurationSetsOf, LocalSes } from './ses.ts';
import { LocalSmtpInbound } from './smtp-inbound.ts';
import { LocalStepFunctions } from './stepfunctions.ts';
import { LocalSts } from './sts.ts';
import { synthesizeOnce } from './synth-cache.ts';
import { TemplateResolver } from './template.ts';
import type { CfnTemplate, Invoker, LocalService } from './types.ts';

/** The outbound sender of the local cloud (SENDER_EMAIL); the local SES accepts any. */
export const LOCAL_SENDER_EMAIL = 'crm@crm.example';

export interface LocalCloudOptions {
  /** Where state lives (.data for `npm start`). */
  dataDir: string;
  /** false: in-memory database and a wiped data dir (tests, benchmarks). */
  persist: boolean;
  apiPort?: number;
  /** The public web-to-lead API's port (0 or absent: any free one). */
  formsApiPort?: number;
  smtpPort?: number;
  sesPort?: number;
  /** Step Functions Wait/Retry time scale: 1 real time, 0 no waiting. */
  waitTimeScale?: number;
  /** The DynamoDB endpoint functions get, from DynamoDB Local's (e.g. a counting proxy in front of it: benchmarks). */
  functionDynamoEndpoint?: (realEndpoint: string) => Promise<string>;
  /**
   * An app already synthesized (with bundles) by `synthesize()` that this cloud runs instead of synthesizing its own:
   * tests synthesize once per run (test/support/assembly.ts). Only read, never changed or removed by the cloud.
   */
  prebuilt?: { template: CfnTemplate; assemblyDir: string };
  log?: (line: string) => void;
}

/** How AWS tools reach the local cloud: region, credentials and one AWS_ENDPOINT_URL_<SERVICE> per local service. */
export interface LocalAwsAccess {
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** `AWS_ENDPOINT_URL_<SERVICE>` → `http://127.0.0.1:PORT`, one per AWS service the local cloud runs. */
  endpoints: Record<string, string>;
}

/** What `<dataDir>/local-cloud.json` holds: the API's coordinates (for `npm run token`) and the AWS access. */
export interface LocalCloudFile extends LocalCloudInfo {
  aws: LocalAwsAccess;
  /** The same as environment variables, as written to `<dataDir>/local-cloud.env`. */
  environment: Record<string, string>;
  /** The template's user pool, served by the local Cognito (`npm run token -- --user` reads its users). */
  userPoolId: string;
}

/** The environment variables that point the AWS CLI and SDKs at the local cloud. */
export function awsEnvironment(aws: LocalAwsAccess): Record<string, string> {
  return {
    AWS_REGION: aws.region,
    AWS_DEFAULT_REGION: aws.region,
    AWS_ACCESS_KEY_ID: aws.accessKeyId,
    AWS_SECRET_ACCESS_KEY: aws.secretAccessKey,
    ...aws.endpoints,
  };
}

export function localCloudEnvPath(dataDir: string): string {
  return join(dataDir, 'local-cloud.env');
}

/** `<dataDir>/local-cloud.json` and `<dataDir>/local-cloud.env` (KEY=value lines), each written whole or not at all. */
async function writeLocalCloudFiles(dataDir: string, file: LocalCloudFile): Promise<void> {
  await writeLocalCloudInfo(dataDir, file);
  const target = localCloudEnvPath(dataDir);
  const lines = Object.entries(file.environment).map(([name, value]) => `${name}=${value}`);
  await writeFile(
    `${target}.tmp`,
    `# The local cloud's AWS endpoints, written by npm start. Use: export $(grep -v '^#' ${target})\n${lines.join('\n')}\n`,
  );
  await rename(`${target}.tmp`, target);
}

export interface LocalCloud {
  /** The app was not synthesized for this start: a prebuilt one, or npm start's last synth (nothing changed). */
  appReused: boolean;
  apiUrl: string;
  /** The public web-to-lead API (form submissions and opt-in confirmations). */
  formsApiUrl: string;
  docsUrl: string;
  smtpPort: number;
  sesWebUiUrl: string;
  info: LocalCloudFile;
  /** Region, credentials and the AWS_ENDPOINT_URL_<SERVICE> of every local AWS service. */
  aws: LocalAwsAccess;
  template: CfnTemplate;
  resolver: TemplateResolver;
  issuer: LocalIssuer;
  dynamo: DynamoDbLocal;
  tableName: string;
  lambda: LambdaRuntime;
  events: LocalEventBridge;
  streams: LocalStreamPoller;
  stepFunctions: LocalStepFunctions;
  scheduler: LocalScheduler;
  ses: LocalSes;
  s3: LocalS3;
  smtp: LocalSmtpInbound;
  /** Issues the API functions' tenant-scoped sessions (AssumeRole with the tenantId tag) and records them. */
  sts: LocalSts;
  /** The user pool's admin API (the users the workspace invites). */
  cognito: LocalCognito;
  /** Mints a dev token for the API (a Cognito-shaped ID token signed by the local issuer). */
  token(options: { tenantId: string; roles: string[]; userId?: string; email?: string }): Promise<string>;
  /** A token for a user of the local user pool (by id or email), with their groups; refused if unknown or disabled. */
  userToken(options: { tenantId: string; user: string }): Promise<string>;
  stop(): Promise<void>;
}

function single(resolver: TemplateResolver, type: string): string {
  const found = resolver.resourcesOfType(type);
  if (found.length !== 1) throw new Error(`expected exactly one ${type} in the template, found ${found.length}`);
  return found[0]![0];
}

/** Creates the table exactly as the template declares it (keys, GSIs, stream) unless it exists; returns its stream. */
async function createTableFromTemplate(dynamo: DynamoDbLocal, resolver: TemplateResolver, logicalId: string) {
  const TableName = resolver.ref(logicalId);
  const p = resolver.properties(logicalId) as Record<string, unknown>;
  try {
    const existing = await dynamo.client.send(new DescribeTableCommand({ TableName }));
    if (existing.Table?.LatestStreamArn) return { TableName, streamArn: existing.Table.LatestStreamArn };
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  const input = {
    TableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: p.AttributeDefinitions,
    KeySchema: p.KeySchema,
    GlobalSecondaryIndexes: (p.GlobalSecondaryIndexes as Array<Record<string, unknown>> | undefined)?.map((g) => ({
      IndexName: g.IndexName,
      KeySchema: g.KeySchema,
      Projection: g.Projection,
    })),
    StreamSpecification: { StreamEnabled: true, ...(p.StreamSpecification as object) },
  } as CreateTableCommandInput;
  const created = await dynamo.client.send(new CreateTableCommand(input));
  return { TableName, streamArn: created.TableDescription!.LatestStreamArn! };
}

/** Where a persistent local cloud keeps its synthesized app: one per data dir, so two clouds never share one. */
export function persistentAssemblyDir(dataDir: string): string {
  return join(
    PROJECT_ROOT,
    '.data',
    'cdk.out',
    `local-${createHash('sha256').update(dataDir).digest('hex').slice(0, 8)}`,
  );
}

/**
 * How the local cloud synthesizes: the default template, bundled. Edge protection (CloudFront, WAF in us-east-1) has
 * no local part. It has a sender, so functions that mail (double opt-in) work: every message lands in the local SES
 * outbox.
 */
export function localSynthOptions(outdir: string): SynthesizeOptions {
  return { outdir, bundle: true, context: { edgeProtection: false, senderEmail: LOCAL_SENDER_EMAIL } };
}

/**
 * The local cloud: synthesizes the CDK app (bundling with local esbuild) and runs that template on this machine:
 * DynamoDB Local with its stream feeding the template's event source mappings, Lambda functions in worker threads,
 * the HTTP API with its JWT authorizer, EventBridge rules, Step Functions, Scheduler, SES and S3. Handlers reach
 * every service through the SDK's standard AWS_ENDPOINT_URL_* variables, which are also written to
 * `<dataDir>/local-cloud.json` and `<dataDir>/local-cloud.env` for the AWS CLI. Every server binds 127.0.0.1 except
 * DynamoDB Local, which cannot (it gets a random high port and a CORS allow-list of only its own origin).
 */
export async function startLocalCloud(options: LocalCloudOptions): Promise<LocalCloud> {
  const log = options.log ?? (() => {});
  if (!options.persist) await rm(options.dataDir, { recursive: true, force: true });
  await mkdir(options.dataDir, { recursive: true });
  const started: LocalService[] = [];
  const track = <S extends LocalService>(service: S): S => {
    started.push(service);
    return service;
  };
  // Every local AWS service registers here under its AWS_ENDPOINT_URL_<ID> names (the SDKs' and the CLI's service
  // ids): functions get these variables, and npm start prints and writes them. A new service is one serve() call.
  const endpoints: Record<string, string> = {};
  const serve = <S extends LocalService>(service: S, ...ids: string[]): S => {
    if (!service.endpoint) throw new Error(`${service.name} has no endpoint to serve`);
    for (const id of ids) endpoints[`AWS_ENDPOINT_URL_${id}`] = service.endpoint;
    return track(service);
  };
  // Stops in reverse start order, once: a second stop() waits for the first.
  let stopping: Promise<void> | undefined;
  const stopAll = () => {
    stopping ??= (async () => {
      for (const service of [...started].reverse()) {
        await service.stop().catch((error: Error) => log(`${service.name}: stop failed: ${error.message}`));
      }
    })();
    return stopping;
  };

  // The assembly lives inside the project so bundles resolve @aws-sdk/* from node_modules, as Lambda's runtime
  // provides them (they are not bundled).
  const outdir = options.persist
    ? persistentAssemblyDir(options.dataDir)
    : join(PROJECT_ROOT, '.data', 'cdk.out', `test-${randomUUID().slice(0, 8)}`);
  if (!options.persist && !options.prebuilt) {
    started.push({ name: 'assembly', stop: () => rm(outdir, { recursive: true, force: true }) });
  }
  try {
    // npm start (persist) reuses its last synth while no input of the app changed (a restart takes seconds, not a
    // minute); throwaway clouds synthesize unless given the run's prebuilt app.
    const { template, assemblyDir, reused } = options.prebuilt
      ? { ...options.prebuilt, reused: true }
      : options.persist
        ? await synthesizeOnce(localSynthOptions(outdir))
        : { ...(await synthesize(localSynthOptions(outdir))), reused: false };
    const resolver = new TemplateResolver(template);

    const dynamo = serve(
      await DynamoDbLocal.start(options.persist ? { dataDir: join(options.dataDir, 'dynamodb') } : {}),
      'DYNAMODB',
      // DynamoDB Local serves the stream API on the same port.
      'DYNAMODB_STREAMS',
    );
    const tableLogicalId = single(resolver, 'AWS::DynamoDB::Table');
    const { TableName, streamArn } = await createTableFromTemplate(dynamo, resolver, tableLogicalId);

    // Services and functions need each other: services get a late-bound invoker, functions get service endpoints.
    let runtime: LambdaRuntime | undefined;
    const invoker: Invoker = {
      invoke: (ref, event, type) => runtime!.invoke(ref, event, type),
      has: (ref) => runtime?.has(ref) ?? false,
    };

    const s3 = serve(await LocalS3.start({ resolver, dataDir: options.dataDir, silent: true, log }), 'S3');
    // Accepted work (EventBridge target deliveries, async invocations, started executions) is journaled under the data
    // dir when it persists.
    const journal = (name: string) => (options.persist ? { dataDir: join(options.dataDir, name) } : {});
    const stepFunctions = serve(
      await LocalStepFunctions.start({
        resolver,
        invoker,
        waitTimeScale: options.waitTimeScale ?? 1,
        log,
        ...journal('stepfunctions'),
      }),
      'SFN',
    );
    const events = serve(
      await LocalEventBridge.start({ resolver, invoker, executions: stepFunctions, log, ...journal('eventbridge') }),
      'EVENTBRIDGE',
    );
    stepFunctions.setEventPutter(events);
    // SES after the bus: sends through the template's configuration sets put SES's own events on the default bus,
    // and every send is appended to <dataDir>/ses/outbox.jsonl (see ses.ts).
    const ses = serve(
      await LocalSes.start({
        port: options.sesPort ?? 0,
        log,
        dataDir: options.dataDir,
        events,
        configurationSets: configurationSetsOf(resolver),
        account: { account: resolver.account, region: resolver.region },
      }),
      'SESV2',
      'SES',
    );
    const scheduler = serve(
      await LocalScheduler.start({
        dataDir: options.dataDir,
        invoker,
        executions: stepFunctions,
        events,
        resolver,
        log,
      }),
      'SCHEDULER',
    );

    // Tenant-scoped credentials: API functions assume their tenant-access role per tenant (DynamoDB Local ignores
    // credentials, so the policies themselves are proven by infra/tenant-isolation.test.ts).
    const sts = serve(await LocalSts.start({ resolver, log }), 'STS');
    // The user pool's admin actions (the users function invites, disables, sets groups), kept under the data dir.
    const cognito = serve(
      await LocalCognito.start({ resolver, dataDir: options.dataDir, log }),
      'COGNITO_IDENTITY_PROVIDER',
    );
    const userPoolId = single(resolver, 'AWS::Cognito::UserPool');

    // Two HTTP APIs: the CRM API, and the public web-to-lead API (no API-level CORS: forms answer their own). Their
    // ports are fixed before the functions' environments are resolved: functions that build public links get the
    // forms API's local URL for `Fn::GetAtt [api, ApiEndpoint]` (PUBLIC_API_URL). A port not given is held open
    // (PortReservation) until its API serves on it, so no other process can take it meanwhile.
    const hold = async (port: number | undefined): Promise<{ port: number; reservation?: PortReservation }> => {
      if (port) return { port };
      const reservation = track(await PortReservation.hold());
      return { port: reservation.port, reservation };
    };
    const apiListen = await hold(options.apiPort);
    const formsApiListen = await hold(options.formsApiPort);
    const apiPort = apiListen.port;
    const formsApiPort = formsApiListen.port;
    const httpApis = resolver.resourcesOfType('AWS::ApiGatewayV2::Api');
    // An API's name is its Name, or the title of the OpenAPI Body it is declared by.
    const apiName = (props: Record<string, unknown> | undefined) =>
      props?.Name ?? (props?.Body as { info?: { title?: unknown } } | undefined)?.info?.title;
    const formsApiId = httpApis.find(([, r]) => apiName(r.Properties) === 'FormsApi')?.[0];
    const mainApiId = httpApis.find(([id]) => id !== formsApiId)?.[0];
    if (mainApiId) resolver.setApiEndpoint(mainApiId, `http://127.0.0.1:${apiPort}`);
    if (formsApiId) resolver.setApiEndpoint(formsApiId, `http://127.0.0.1:${formsApiPort}`);

    runtime = track(
      await LambdaRuntime.start({
        resolver,
        assemblyDir,
        environment: {
          ...endpoints,
          ...(options.functionDynamoEndpoint
            ? { AWS_ENDPOINT_URL_DYNAMODB: await options.functionDynamoEndpoint(dynamo.endpoint) }
            : {}),
          AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
          POWERTOOLS_DEV: 'true',
          POWERTOOLS_LOG_LEVEL: process.env.CRM_LOG_LEVEL ?? 'WARN',
          POWERTOOLS_METRICS_DISABLED: 'true',
        },
        log,
        ...journal('lambda'),
      }),
    );
    // Deliveries accepted before a crash go out now that their targets run.
    events.deliverPending();
    // Sending events a crash may have kept off the bus go out now too.
    await ses.replayUnconfirmed();
    stepFunctions.resumePending();

    const streams = track(
      await LocalStreamPoller.start({
        endpoint: dynamo.endpoint,
        resolver,
        tableLogicalId,
        localStreamArn: streamArn,
        invoker,
        ...(options.persist ? { checkpointFile: join(options.dataDir, 'streams', 'checkpoints.json') } : {}),
        log,
      }),
    );

    // RCPT TO for an address no tenant's mailbox owns answers 550: the same claim lookup as the inbound function's.
    const ownerOf = mailboxResolver(
      createModel({ table: TableName, client: DynamoDBDocumentClient.from(dynamo.client) }),
    );
    const smtp = track(
      await LocalSmtpInbound.start({
        resolver,
        invoker,
        s3Endpoint: s3.endpoint,
        port: options.smtpPort ?? 0,
        acceptRecipient: async (address) => (await ownerOf(address)) !== undefined,
        log,
      }),
    );

    const issuer = await LocalIssuer.create({
      dataDir: options.dataDir,
      // The issuer lives on the API's own origin (it serves /.well-known/jwks.json there).
      issuerUrl: `http://127.0.0.1:${apiPort}`,
    });
    const api = track(
      await LocalHttpApi.start({
        resolver,
        invoker,
        issuer,
        ...apiListen,
        log,
        ...(mainApiId ? { apiLogicalId: mainApiId } : {}),
      }),
    );
    const formsApi = formsApiId
      ? track(
          await LocalHttpApi.start({
            resolver,
            invoker,
            issuer,
            ...formsApiListen,
            log,
            apiLogicalId: formsApiId,
          }),
        )
      : undefined;

    const audience = api.jwtAudience() ?? '';
    const aws: LocalAwsAccess = {
      region: resolver.region,
      accessKeyId: LOCAL_CREDENTIALS.accessKeyId,
      secretAccessKey: LOCAL_CREDENTIALS.secretAccessKey,
      endpoints: { ...endpoints },
    };
    const info: LocalCloudFile = {
      apiUrl: api.url,
      ...(formsApi ? { formsApiUrl: formsApi.url } : {}),
      docsUrl: `${api.url}/docs`,
      issuerUrl: issuer.issuerUrl,
      audience,
      aws,
      environment: awsEnvironment(aws),
      userPoolId: resolver.ref(userPoolId),
    };
    await writeLocalCloudFiles(options.dataDir, info);

    return {
      appReused: reused,
      apiUrl: api.url,
      formsApiUrl: formsApi?.url ?? api.url,
      docsUrl: info.docsUrl,
      smtpPort: smtp.port,
      sesWebUiUrl: ses.webUiUrl,
      info,
      aws,
      template,
      resolver,
      issuer,
      dynamo,
      tableName: TableName,
      lambda: runtime,
      events,
      streams,
      stepFunctions,
      scheduler,
      ses,
      s3,
      smtp,
      sts,
      cognito,
      userToken: ({ tenantId, user }) =>
        mintUserToken({
          issuer,
          audience,
          cognitoEndpoint: cognito.endpoint,
          userPoolId: info.userPoolId,
          tenantId,
          user,
          expiresIn: '8h',
        }),
      token: ({ tenantId, roles, userId, email }) =>
        issuer.mint({
          tenantId,
          roles,
          audience,
          expiresIn: '8h',
          ...(userId ? { userId } : {}),
          ...(email ? { email } : {}),
        }),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
