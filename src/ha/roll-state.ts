/**
 * A roll's progress across restarts of 3rc (issue 24), pure. The roll's progress is written to the
 * store at each change (a `hypervisor.roll` event holding the whole RollProgress); a 3rc that
 * starts again reads the newest one:
 * - a roll that had ended is shown as it ended;
 * - one that had not was cut by the restart: it is shown stopped at the host it was at, naming the
 *   step that host's reinstall had reached (its `reinstall-STEP-OUTCOME` events), and it does not go
 *   on by itself (the host may be half-installed: the operator looks first).
 * `3rc hv roll --resume` goes on with the hosts not done, the cut host first, from where its
 * reinstall stood (resumePoint): a host is never re-imaged twice by one roll.
 */
import { REINSTALL_STEPS, type ReinstallStep } from './reinstall-hv.js';
import type { RollProgress } from './roll.js';

/** One recorded step of a reinstall (a `hypervisor.drain` event, reason `reinstall-STEP-OUTCOME`). */
export interface RecordedStep {
  step: ReinstallStep;
  outcome: 'started' | 'done' | 'failed';
  at: number;
}

/** The step of a `reinstall-STEP-OUTCOME` reason, or null for another reason. */
export function parseStepReason(reason: string | null, at: number): RecordedStep | null {
  const m = /^reinstall-([a-z]+)-(started|done|failed)$/.exec(reason ?? '');
  if (!m || !(REINSTALL_STEPS as readonly string[]).includes(m[1]!)) return null;
  return { step: m[1] as ReinstallStep, outcome: m[2] as RecordedStep['outcome'], at };
}

/**
 * The roll as a starting 3rc shows it: `last` as it was when it had ended; else stopped at the host
 * it was at (interrupted), `steps` that host's recorded steps since the roll started.
 */
export function restoredRoll(last: RollProgress | null, steps: readonly RecordedStep[], now: number): RollProgress | null {
  if (!last || last.endedAt !== null) return last;
  const host = cutHost(last);
  const reached = steps.at(-1);
  const where = reached ? `its reinstall had reached ${reached.step} (${reached.outcome})` : 'before its reinstall began';
  return {
    ...last,
    current: null,
    endedAt: now,
    stopped: { host: host ?? '?', why: `3rc restarted during the roll, at ${host ?? 'its end'}: ${where}; 3rc hv roll --resume goes on`, interrupted: true },
  };
}

/**
 * Where a reinstall cut by a restart goes on, from its recorded steps: 'done' once it was undrained
 * (or got as far as the undrain); from the install once the power cycle was done (the host is in
 * its installer: waiting for its install-done, never cycled again), with the time the cycle step
 * began; from the start when the cycle had not begun (a drain and a boot override are safe to
 * repeat). A cycle that began but was never recorded done is an unknown outcome: 3rc may have died
 * before the BMC was asked (then waiting for an install would wait out the install's whole limit,
 * an hour by default, for nothing) or just after. It goes on from the one-time PXE boot: the boot
 * override, the install flip (a fresh token) and the power cycle again. The host is drained and in
 * maintenance, so a second cycle costs at most the first minutes of an installer that had begun;
 * it never runs a VM twice and never re-images a host that had finished.
 */
export function resumePoint(steps: readonly RecordedStep[]): 'done' | { from: ReinstallStep; installSince: number | null } {
  if (steps.some((s) => s.step === 'undrain' && s.outcome === 'done')) return 'done';
  const rank = (s: ReinstallStep) => REINSTALL_STEPS.indexOf(s);
  const furthest = steps.reduce<ReinstallStep | null>((f, s) => (f === null || rank(s.step) > rank(f) ? s.step : f), null);
  const cycle = steps.find((s) => s.step === 'cycle' && s.outcome === 'started');
  if (furthest === null || rank(furthest) < rank('cycle') || !cycle) return { from: 'drain', installSince: null };
  if (furthest === 'cycle' && !steps.some((s) => s.step === 'cycle' && s.outcome === 'done')) return { from: 'pxe', installSince: null };
  return { from: rank(furthest) <= rank('install') ? 'install' : furthest, installSince: cycle.at };
}

/**
 * The host an unfinished roll was at: its current one, else the first not done (the progress is
 * written without waiting, so the reinstall's own steps may be in the store before it).
 */
export function cutHost(p: RollProgress): string | null {
  return p.current ?? remainingHosts(p)[0] ?? null;
}

/** The hosts a resumed roll still has to do, in the roll's order. */
export function remainingHosts(p: RollProgress): string[] {
  return p.hosts.filter((h) => !p.done.includes(h));
}
