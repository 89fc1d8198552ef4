/**
 * Whose stall is it? 3rc logs each event-loop stall over 50 ms when it ends ('event loop
 * stalled', with its own share and its delay; src/lib/metrics.ts). A probe at real-time priority
 * (scripts/pause-probe.py) logs each moment the machine itself did not run (on this VM its host
 * stops both virtual CPUs for up to ~100 ms when the VM is busy: a probe that only sleeps 1 ms at
 * a time oversleeps 100 ms then). A stall that falls in such a pause is the machine's; what is
 * left of it once the pause is taken out is 3rc's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { teardownOnExit } from '../../src/lab/topology.js';

/** An interval that ended at `end` (epoch ms) and lasted `ms`. */
export interface Pause {
  end: number;
  ms: number;
}

/** One 'event loop stalled' report of 3rc: when it ended, its delay and its own share. */
export interface Stall {
  end: number;
  delayMs: number;
  ownMs: number;
}

/** 3rc's stall reports in its pino log lines. */
export function stallsIn(lines: readonly string[]): Stall[] {
  const out: Stall[] = [];
  for (const l of lines) {
    if (!l.includes('"event loop stalled"')) continue;
    try {
      const j = JSON.parse(l) as { time?: string; delayMs?: number; ownMs?: number };
      const end = Date.parse(j.time ?? '');
      if (Number.isFinite(end) && typeof j.delayMs === 'number' && typeof j.ownMs === 'number') out.push({ end, delayMs: j.delayMs, ownMs: j.ownMs });
    } catch {
      /* not JSON: not ours */
    }
  }
  return out;
}

/** The probe's lines: `<epoch ms> <oversleep ms>`. */
export function pausesIn(text: string): Pause[] {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number))
    .filter((p) => p.length === 2 && p.every(Number.isFinite))
    .map(([end, ms]) => ({ end: end!, ms: ms! }));
}

export interface Attribution {
  /** Stalls reported, and how many of them the machine's pauses cover (all but at most `limitMs` of each). */
  stalls: number;
  covered: number;
  /** The largest remainder of a stall once the machine's pauses are taken out, ms (0: none reported). */
  ownMaxMs: number;
  /** The machine's longest pause in the window, ms (0: none over the probe's threshold). */
  machineMaxMs: number;
}

/**
 * Each stall's interval is [end - delay, end]; the time the machine's pauses overlap it (with a
 * few ms of slack for the two clocks and the 5 ms tick) is taken out of its own share.
 */
export function attribute(stalls: readonly Stall[], pauses: readonly Pause[], limitMs: number, slackMs = 10): Attribution {
  let covered = 0;
  let ownMaxMs = 0;
  for (const s of stalls) {
    const a = s.end - s.delayMs;
    let overlap = 0;
    for (const p of pauses) overlap += Math.max(0, Math.min(s.end, p.end) + slackMs - Math.max(a, p.end - p.ms));
    const own = Math.max(0, s.ownMs - overlap);
    if (own <= limitMs) covered++;
    ownMaxMs = Math.max(ownMaxMs, own);
  }
  return { stalls: stalls.length, covered, ownMaxMs, machineMaxMs: pauses.reduce((m, p) => Math.max(m, p.ms), 0) };
}

/** The probe, started at real-time priority (root: the campaign runs as root anyway). */
export class PauseProbe {
  private text = '';
  private readonly children: ChildProcess[] = [];
  private readonly untrack: () => void;

  /**
   * One probe pinned to each CPU: the host can stop one virtual CPU and not the other, and a
   * probe that may run on either CPU then runs on the one that goes on, and sees nothing.
   */
  constructor(root: string) {
    for (let cpu = 0; cpu < availableParallelism(); cpu++) {
      const child = spawn('taskset', ['-c', String(cpu), 'chrt', '-f', '70', 'python3', join(root, 'scripts', 'pause-probe.py'), '20'], { stdio: ['ignore', 'pipe', 'ignore'] });
      child.stdout!.on('data', (d: Buffer) => (this.text += d.toString()));
      child.on('error', () => undefined); // no taskset or chrt: the campaign says the probe saw nothing
      this.children.push(child);
    }
    this.untrack = teardownOnExit(() => this.kill());
  }

  private kill(): void {
    for (const c of this.children) c.kill('SIGKILL');
  }

  /** Pauses seen since `since` (epoch ms). */
  pauses(since: number): Pause[] {
    return pausesIn(this.text).filter((p) => p.end >= since);
  }

  stop(): void {
    this.untrack();
    this.kill();
  }
}
