import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../../test/support/local-cloud.ts';
import { type LocalCloud, startLocalCloud } from './cloud.ts';

/** The local cloud runs the template's tenant-access wiring: API functions assume their role per tenant. */
let cloud: LocalCloud;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'crm-cloud-sts-'));
  cloud = await startLocalCloud({ dataDir, persist: false, waitTimeScale: 0 });
});
afterAll(async () => {
  await cloud?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** The TENANT_ROLE_ARN a function of the template gets, resolved as the local cloud resolves it. */
function tenantRoleArnOf(serviceName: string): string {
  for (const [id] of cloud.resolver.resourcesOfType('AWS::Lambda::Function')) {
    const variables = (cloud.resolver.properties(id).Environment as { Variables?: Record<string, string> })?.Variables;
    if (variables?.POWERTOOLS_SERVICE_NAME === serviceName) return variables.TENANT_ROLE_ARN!;
  }
  throw new Error(`no function ${serviceName}`);
}

describe('tenant-scoped sessions in the local cloud', () => {
  it('each tenant of a request gets its own STS session of its group role, tagged with the tenant', async () => {
    const [acme, beta] = ['acme', 'beta'].map((p) => `${p}-${Math.random().toString(36).slice(2, 8)}`) as [
      string,
      string,
    ];
    const asAcme = api(cloud, await cloud.token({ tenantId: acme, roles: ['admin'] }));
    const asBeta = api(cloud, await cloud.token({ tenantId: beta, roles: ['admin'] }));
    expect((await asAcme('POST', '/v1/contacts', { firstName: 'Ada', lastName: 'Lovelace' })).status).toBe(201);
    expect((await asAcme('GET', '/v1/contacts')).status).toBe(200);
    expect((await asBeta('GET', '/v1/companies')).status).toBe(200);

    const contactsRole = tenantRoleArnOf('contacts');
    expect(contactsRole).toMatch(/^arn:aws:iam::000000000000:role\//);
    expect(cloud.sts.sessionsTagged('tenantId', acme)).toEqual([
      expect.objectContaining({ roleArn: contactsRole, roleSessionName: `tenant-${acme}`, tags: { tenantId: acme } }),
    ]);
    expect(cloud.sts.sessionsTagged('tenantId', beta)).toEqual([
      expect.objectContaining({ roleArn: tenantRoleArnOf('companies'), tags: { tenantId: beta } }),
    ]);
  });

  it('answers the AWS CLI at its endpoint (GetCallerIdentity)', async () => {
    const response = await fetch(cloud.sts.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=GetCallerIdentity&Version=2011-06-15',
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('<Account>000000000000</Account>');
  });
});
