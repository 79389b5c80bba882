import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  type CommandResult,
  ensureSystemDeps,
  javaMajorVersion,
  missingDeps,
  planInstall,
  type SystemProbe,
} from './system-deps.ts';

const JAVA_17 = 'openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment (build 17.0.15+6-Debian-1deb12u1)';
const JAVA_8 = 'openjdk version "1.8.0_402"\nOpenJDK Runtime Environment (build 1.8.0_402-b06)';

/** A pretend machine: which files are executable, who we are, and what commands answer. */
function machine(options: {
  files?: string[];
  uid?: number;
  javaVersionText?: string;
  sudoWithoutPassword?: boolean;
}): SystemProbe & { ran: string[] } {
  const files = new Set(options.files ?? []);
  const ran: string[] = [];
  return {
    ran,
    path: '/usr/local/bin:/usr/bin:/bin',
    uid: options.uid,
    executable: (path) => files.has(path),
    run(command, args): CommandResult | undefined {
      ran.push([command, ...args].join(' '));
      if (command === 'java' && files.has('/usr/bin/java')) {
        return { status: 0, stdout: '', stderr: options.javaVersionText ?? JAVA_17 };
      }
      if (command === 'sudo' && files.has('/usr/bin/sudo')) {
        return { status: options.sudoWithoutPassword ? 0 : 1, stdout: '', stderr: 'a password is required' };
      }
      return undefined;
    },
  };
}

const everything = ['/usr/bin/java', '/usr/bin/chromium', '/usr/bin/apt-get'];

describe('system parts for npm start and npm test', () => {
  it('reads the Java major version, old and new numbering', () => {
    expect(javaMajorVersion(machine({ files: ['/usr/bin/java'] }))).toBe(17);
    expect(javaMajorVersion(machine({ files: ['/usr/bin/java'], javaVersionText: JAVA_8 }))).toBe(8);
    expect(javaMajorVersion(machine({ files: [] }))).toBeUndefined();
  });

  it('finds nothing missing on a ready machine, and does nothing', () => {
    const probe = machine({ files: everything, uid: 1000 });
    expect(missingDeps(probe, ['java', 'chromium'])).toEqual([]);
    expect(planInstall(probe, ['java', 'chromium'])).toEqual({ action: 'none' });
  });

  it('counts Java older than 17 as missing', () => {
    const probe = machine({ files: everything, uid: 1000, javaVersionText: JAVA_8 });
    expect(missingDeps(probe, ['java', 'chromium'])).toEqual(['java']);
  });

  it('installs the Debian packages directly as root', () => {
    const probe = machine({ files: ['/usr/bin/apt-get'], uid: 0 });
    expect(planInstall(probe, ['java', 'chromium'])).toEqual({
      action: 'install',
      missing: ['java', 'chromium'],
      packages: ['openjdk-17-jre-headless', 'chromium'],
      commands: [
        ['apt-get', 'update'],
        ['apt-get', 'install', '-y', '--no-install-recommends', 'openjdk-17-jre-headless', 'chromium'],
      ],
    });
  });

  it('installs through sudo when it needs no password', () => {
    const probe = machine({
      files: ['/usr/bin/apt-get', '/usr/bin/sudo', '/usr/bin/java'],
      uid: 1000,
      sudoWithoutPassword: true,
    });
    const plan = planInstall(probe, ['java', 'chromium']);
    expect(plan).toMatchObject({
      action: 'install',
      packages: ['chromium'],
      commands: [
        ['sudo', '-n', 'apt-get', 'update'],
        ['sudo', '-n', 'apt-get', 'install', '-y', '--no-install-recommends', 'chromium'],
      ],
    });
    expect(probe.ran).toContain('sudo -n true');
  });

  it('stops with the exact command when sudo wants a password, or there is no sudo', () => {
    for (const files of [['/usr/bin/apt-get', '/usr/bin/sudo'], ['/usr/bin/apt-get']]) {
      const plan = planInstall(machine({ files, uid: 1000 }), ['java', 'chromium']);
      expect(plan).toMatchObject({
        action: 'instruct',
        command: 'sudo apt-get update && sudo apt-get install -y openjdk-17-jre-headless chromium',
      });
    }
  });

  it('says what to install by hand where there is no apt-get', () => {
    const plan = planInstall(machine({ files: [], uid: 501 }), ['java']);
    expect(plan).toMatchObject({ action: 'instruct', reason: expect.stringContaining('apt-get is not available') });
    expect(plan.action === 'instruct' && plan.command).toBe('brew install openjdk@17');
  });

  it('runs the install commands, then checks again', () => {
    const installed = new Set(['/usr/bin/apt-get']);
    const probe: SystemProbe = {
      ...machine({ uid: 0 }),
      executable: (p) => installed.has(p),
      run: (command) =>
        command === 'java' && installed.has('/usr/bin/java') ? { status: 0, stdout: '', stderr: JAVA_17 } : undefined,
    };
    const runs: string[] = [];
    const log: string[] = [];
    const ok = ensureSystemDeps(['java', 'chromium'], {
      probe,
      log: (line) => log.push(line),
      // The pretend apt-get installs by making the files appear.
      runCommand: (argv) => {
        runs.push(argv.join(' '));
        if (argv.includes('install')) for (const f of ['/usr/bin/java', '/usr/bin/chromium']) installed.add(f);
        return true;
      },
    });
    expect(ok).toBe(true);
    expect(runs).toEqual([
      'apt-get update',
      'apt-get install -y --no-install-recommends openjdk-17-jre-headless chromium',
    ]);
    expect(log).toEqual([expect.stringMatching(/^Installing openjdk-17-jre-headless chromium/)]);
  });

  it('fails with the command when an install command fails or leaves a part missing', () => {
    const failed: string[] = [];
    const probe = machine({ files: ['/usr/bin/apt-get'], uid: 0 });
    expect(ensureSystemDeps(['chromium'], { probe, log: (l) => failed.push(l), runCommand: () => false })).toBe(false);
    expect(failed.at(-1)).toContain('sudo apt-get update && sudo apt-get install -y chromium');

    const stillMissing: string[] = [];
    expect(ensureSystemDeps(['java'], { probe, log: (l) => stillMissing.push(l), runCommand: () => true })).toBe(false);
    expect(stillMissing.at(-1)).toContain('still missing after installing');
    expect(stillMissing.at(-1)).toContain('sudo apt-get install -y openjdk-17-jre-headless');
  });

  it('fails with the command, without running anything, when it cannot install', () => {
    const log: string[] = [];
    let ran = false;
    const ok = ensureSystemDeps(['java'], {
      probe: machine({ files: ['/usr/bin/apt-get'], uid: 1000 }),
      log: (line) => log.push(line),
      runCommand: () => {
        ran = true;
        return true;
      },
    });
    expect(ok).toBe(false);
    expect(ran).toBe(false);
    expect(log.join('\n')).toContain('sudo apt-get update && sudo apt-get install -y openjdk-17-jre-headless');
  });

  it('is what npm test runs first (pretest), and passes on this machine, which has run it', async () => {
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.pretest).toBe('node test/support/ensure-system-deps.ts');
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['test/support/ensure-system-deps.ts']);
    expect(stdout + stderr).toBe('');
  });
});
