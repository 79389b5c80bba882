import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * The system parts the project needs beside npm packages: Java 17+ for DynamoDB Local (`npm start`, `npm test`) and
 * Chromium for the browser test of /docs (`npm test`). The checks and the decision of what to do are pure functions
 * of a probe (PATH, uid, command runner), so tests inject them instead of uninstalling packages.
 */

export type SystemDep = 'java' | 'chromium';

/** Debian/Ubuntu packages that provide each part. */
export const APT_PACKAGES: Record<SystemDep, string> = {
  java: 'openjdk-17-jre-headless',
  chromium: 'chromium',
};

/** What each part is, for messages. */
export const DESCRIPTIONS: Record<SystemDep, string> = {
  java: `Java ${17}+ (DynamoDB Local)`,
  chromium: 'Chromium (the browser test of /docs)',
};

/** Where the browser test looks for Chromium (the Debian package's path). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

export const MIN_JAVA = 17;

export interface CommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** What the checks may look at; `systemProbe()` is the real machine. */
export interface SystemProbe {
  /** Runs a command found on PATH; undefined when it cannot be started (not found). */
  run(command: string, args: string[]): CommandResult | undefined;
  /** True when an executable file exists at this absolute path. */
  executable(path: string): boolean;
  /** Effective user id (0 is root); undefined where there is none (Windows). */
  uid: number | undefined;
  /** The PATH to search for commands. */
  path: string;
}

export function systemProbe(env: NodeJS.ProcessEnv = process.env): SystemProbe {
  return {
    run(command, args) {
      const result = spawnSync(command, args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
      if (result.error) return undefined;
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    },
    executable(path) {
      try {
        accessSync(path, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    },
    uid: process.getuid?.(),
    path: env.PATH ?? '',
  };
}

/** The first directory on PATH holding an executable `name`. */
export function which(probe: SystemProbe, name: string): string | undefined {
  for (const dir of probe.path.split(delimiter)) {
    if (dir && probe.executable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The major version `java -version` reports (`17.0.15` gives 17, `1.8.0_402` gives 8), or undefined. */
export function javaMajorVersion(probe: SystemProbe): number | undefined {
  if (!which(probe, 'java')) return undefined;
  const result = probe.run('java', ['-version']);
  if (result?.status !== 0) return undefined;
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${result.stderr}\n${result.stdout}`);
  if (!match) return undefined;
  const major = Number(match[1]);
  return major === 1 ? Number(match[2]) : major;
}

/** Which of `needed` are missing on this machine. */
export function missingDeps(probe: SystemProbe, needed: SystemDep[]): SystemDep[] {
  return needed.filter((dep) => {
    if (dep === 'java') return (javaMajorVersion(probe) ?? 0) < MIN_JAVA;
    return !probe.executable(CHROMIUM_PATH);
  });
}

export type InstallPlan =
  | { action: 'none' }
  /** Run these commands (apt-get update, then install), each an argv. */
  | { action: 'install'; missing: SystemDep[]; packages: string[]; commands: string[][] }
  /** Cannot install from here: stop and show this command to the user. */
  | { action: 'instruct'; missing: SystemDep[]; packages: string[]; command: string; reason: string };

/** The apt-get install command a user runs by hand for the given packages. */
export function installCommand(packages: string[]): string {
  return `sudo apt-get update && sudo apt-get install -y ${packages.join(' ')}`;
}

/**
 * What to do about missing parts: nothing; install the Debian packages ourselves (apt-get present, and root or
 * passwordless sudo); or stop with the exact command to run.
 */
export function planInstall(probe: SystemProbe, needed: SystemDep[]): InstallPlan {
  const missing = missingDeps(probe, needed);
  if (missing.length === 0) return { action: 'none' };
  const packages = missing.map((dep) => APT_PACKAGES[dep]);
  const command = installCommand(packages);
  if (!which(probe, 'apt-get')) {
    return {
      action: 'instruct',
      missing,
      packages,
      command: missing
        .map((dep) => (dep === 'java' ? 'brew install openjdk@17' : `install Chromium as ${CHROMIUM_PATH}`))
        .join(' && '),
      reason: 'apt-get is not available on this machine',
    };
  }
  const install = ['apt-get', 'install', '-y', '--no-install-recommends', ...packages];
  const update = ['apt-get', 'update'];
  if (probe.uid === 0) return { action: 'install', missing, packages, commands: [update, install] };
  const sudo = which(probe, 'sudo') ? probe.run('sudo', ['-n', 'true']) : undefined;
  if (sudo?.status === 0) {
    return {
      action: 'install',
      missing,
      packages,
      commands: [
        ['sudo', '-n', ...update],
        ['sudo', '-n', ...install],
      ],
    };
  }
  return {
    action: 'instruct',
    missing,
    packages,
    command,
    reason: 'installing needs root, and sudo asks for a password (or is missing)',
  };
}

/** The message for missing parts we will not (or could not) install. */
export function missingMessage(missing: SystemDep[], reason: string, command: string): string {
  return `Missing: ${missing.map((dep) => DESCRIPTIONS[dep]).join(', ')} (${reason}). Run:\n\n  ${command}\n`;
}

/** Runs one install command with its output shown; true when it succeeded. */
export type CommandRunner = (argv: string[]) => boolean;

const runVisibly: CommandRunner = (argv) => {
  const result = spawnSync(argv[0]!, argv.slice(1), {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return result.status === 0;
};

/**
 * Makes sure `needed` are present: installs the Debian packages when it can, otherwise fails with the exact command.
 * Returns true when everything is present afterwards; `log` gets progress and the message on failure.
 */
export function ensureSystemDeps(
  needed: SystemDep[],
  options: { probe?: SystemProbe; runCommand?: CommandRunner; log?: (line: string) => void } = {},
): boolean {
  const probe = options.probe ?? systemProbe();
  const runCommand = options.runCommand ?? runVisibly;
  const log = options.log ?? ((line: string) => console.error(line));
  const plan = planInstall(probe, needed);
  if (plan.action === 'none') return true;
  if (plan.action === 'instruct') {
    log(missingMessage(plan.missing, plan.reason, plan.command));
    return false;
  }
  log(`Installing ${plan.packages.join(' ')} (needed: ${plan.missing.map((dep) => DESCRIPTIONS[dep]).join(', ')})...`);
  for (const argv of plan.commands) {
    if (!runCommand(argv)) {
      log(missingMessage(plan.missing, `\`${argv.join(' ')}\` failed`, installCommand(plan.packages)));
      return false;
    }
  }
  const still = missingDeps(probe, needed);
  if (still.length > 0) {
    const packages = still.map((dep) => APT_PACKAGES[dep]);
    log(missingMessage(still, 'still missing after installing', installCommand(packages)));
    return false;
  }
  return true;
}
