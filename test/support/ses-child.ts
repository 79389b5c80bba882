import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalSes } from '../../infra/local/ses.ts';

/**
 * A local SES in a process of its own, for the kill -9 test of its outbox (infra/local/ses-outbox-crash.test.ts):
 * data in argv[2], SES's events appended synchronously to `<dir>/bus.jsonl` (what the local EventBridge journals
 * before it answers), its endpoint printed on the first line of stdout.
 */
const dir = process.argv[2]!;
const ses = await LocalSes.start({
  dataDir: dir,
  log: () => {},
  configurationSets: new Map([['crm-marketing', { name: 'crm-marketing', eventTypes: new Set(['SEND', 'DELIVERY']) }]]),
  events: {
    putServiceEvents: async (entries) => {
      for (const entry of entries) appendFileSync(join(dir, 'bus.jsonl'), `${JSON.stringify(entry)}\n`);
      return { FailedEntryCount: 0, Entries: entries.map((_, i) => ({ EventId: String(i) })) };
    },
  },
});
process.stdout.write(`${ses.endpoint}\n`);
