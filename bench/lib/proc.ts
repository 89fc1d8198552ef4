/** Child processes and /proc readings for the benchmarks. */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Set when the command could not run or timed out. */
  error?: string | undefined;
}

/** Runs a command to completion (never throws); output is kept whole. */
export function run(cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...opts.env }, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr), error: err && code === null ? err.message : undefined });
    });
  });
}

/** A /proc/PID/status size field (VmRSS, VmHWM) of a live process, in MB, or NaN once it is gone. */
function statusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Peak resident set (VmHWM) of a live process, in MB, or NaN once it is gone. */
export const peakRssMb = (pid: number): number => statusMb(pid, 'VmHWM');

/** Resident set now (VmRSS) of a live process, in MB, or NaN once it is gone. */
export const rssMb = (pid: number): number => statusMb(pid, 'VmRSS');

/** utime + stime of a live process, in seconds (/proc/PID/stat fields 14 and 15). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

/** The first of `paths` that exists, else the name looked up on PATH, else undefined. */
export function findTool(...paths: string[]): string | undefined {
  for (const p of paths) {
    if (p.includes('/')) {
      if (existsSync(p)) return p;
    } else {
      const r = spawnSync('sh', ['-c', `command -v ${p}`], { encoding: 'utf8' });
      if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
    }
  }
  return undefined;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** VmRSS of a server that has just started, after a second with nothing to do (issue 26: RSS at idle after start-up). */
export async function idleRssMb(pid: number): Promise<number> {
  await sleep(1000);
  return rssMb(pid);
}
