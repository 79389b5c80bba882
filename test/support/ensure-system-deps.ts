import { ensureSystemDeps, type SystemDep } from '../../infra/local/system-deps.ts';

/**
 * `npm test`'s pretest step (`npm start` makes the same check for Java in infra/local/main.ts): brings the system parts the tests need, Java 17+ for DynamoDB
 * Local and Chromium for the browser test, installing the Debian packages when this machine allows it (root or
 * passwordless sudo, apt-get present), otherwise stopping with the exact command to run.
 * Usage: node test/support/ensure-system-deps.ts [java] [chromium]   (default: both; Node 24 runs TypeScript as is)
 */
const asked = process.argv.slice(2).filter((arg): arg is SystemDep => arg === 'java' || arg === 'chromium');
if (!ensureSystemDeps(asked.length > 0 ? asked : ['java', 'chromium'])) process.exit(1);
