import { existsSync, readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time by where it is spent, from Linux's /proc: this process's threads by name (Node names its main thread
 * MainThread and each worker thread, i.e. each local Lambda container, WorkerThread; the rest are V8's GC/compiler
 * helpers and libuv's pool) and DynamoDB Local's JVM, a child process. On a 2-core machine everything competes for
 * the same cores, so CPU per request, not wall time, says where a request's cost goes.
 */
export interface CpuTimes {
  /** The benchmark's HTTP client, the API Gateway emulation and the counting proxy share this thread. */
  mainMs: number;
  /** The Lambda functions' worker threads. */
  lambdaMs: number;
  /** V8 GC and compiler threads, libuv's pool. */
  nodeOtherMs: number;
  dynamoMs: number;
}

// USER_HZ: the unit of utime/stime in /proc/*/stat, 100 on every mainstream Linux build.
const TICK_MS = 10;

function ticks(statFile: string): { comm: string; ppid: number; ms: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(statFile, 'utf8');
  } catch {
    return undefined; // the thread or process ended meanwhile
  }
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  // After "pid (comm) ": state ppid ... utime stime are fields 14 and 15 of the whole line.
  return {
    comm: stat.slice(open + 1, close),
    ppid: Number(fields[1]),
    ms: (Number(fields[11]) + Number(fields[12])) * TICK_MS,
  };
}

/** DynamoDB Local: our child `java` process. */
export function findDynamoPid(): number | undefined {
  if (!existsSync('/proc/self/stat')) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const t = ticks(`/proc/${entry}/stat`);
    if (t?.ppid === process.pid && t.comm === 'java') return Number(entry);
  }
  return undefined;
}

export function cpuTimes(dynamoPid: number | undefined): CpuTimes | undefined {
  if (dynamoPid === undefined) return undefined;
  const times: CpuTimes = { mainMs: 0, lambdaMs: 0, nodeOtherMs: 0, dynamoMs: 0 };
  for (const tid of readdirSync('/proc/self/task')) {
    const t = ticks(`/proc/self/task/${tid}/stat`);
    if (!t) continue;
    if (t.comm === 'MainThread') times.mainMs += t.ms;
    else if (t.comm === 'WorkerThread') times.lambdaMs += t.ms;
    else times.nodeOtherMs += t.ms;
  }
  times.dynamoMs = ticks(`/proc/${dynamoPid}/stat`)?.ms ?? 0;
  return times;
}

export function cpuDelta(before: CpuTimes | undefined, after: CpuTimes | undefined): CpuTimes | undefined {
  if (!before || !after) return undefined;
  return {
    mainMs: after.mainMs - before.mainMs,
    lambdaMs: after.lambdaMs - before.lambdaMs,
    nodeOtherMs: after.nodeOtherMs - before.nodeOtherMs,
    dynamoMs: after.dynamoMs - before.dynamoMs,
  };
}
