/**
 * The report of `3rc crash-test`: the lab's crash runs of one scenario as text (one line a run,
 * the distribution of detection and recovery, the paper's figures beside them) or as one JSON
 * object. Pure: no I/O, no clock.
 */
import { percentile, summarize as stats } from '../ha/stats.js';
import type { CrashRun, Scenario } from './crash-scenarios.js';

/** A distribution of seconds; every figure is null when there is no sample. */
export interface Distribution {
  n: number;
  min: number | null;
  p50: number | null;
  p90: number | null;
  max: number | null;
  mean: number | null;
  /** Sample standard deviation (n - 1); 0 for one sample. */
  sd: number | null;
}

/** Min, nearest-rank median and p90, max, mean and sd of the samples (the caller drops nulls). */
export function summarize(xs: readonly number[]): Distribution {
  if (xs.length === 0) return { n: 0, min: null, p50: null, p90: null, max: null, mean: null, sd: null };
  const s = stats(xs);
  const sorted = [...xs].sort((a, b) => a - b);
  return { n: s.n, min: s.min, p50: s.p50, p90: percentile(sorted, 90), max: s.max, mean: s.mean, sd: s.sd };
}

/** The JSON line of one scenario, for scripts: exactly these keys. */
export interface CrashReportJson {
  scenario: Scenario;
  /** Runs attempted: the ones that finished and the ones that failed. */
  runs: number;
  /** The measured values in run order (a run that never detected or recovered adds none). */
  detection_s: number[];
  recovery_s: number[];
  double_starts: number;
  failed: number;
}

const measured = (xs: (number | null)[]): number[] => xs.filter((x): x is number => x !== null);

export function crashReportJson(scenario: Scenario, runs: readonly CrashRun[], failures: readonly string[]): CrashReportJson {
  return {
    scenario,
    runs: runs.length + failures.length,
    detection_s: measured(runs.map((r) => r.detection_s)),
    recovery_s: measured(runs.map((r) => r.recovery_s)),
    double_starts: runs.reduce((n, r) => n + r.doubleStarts, 0),
    failed: failures.length,
  };
}

/**
 * The paper's recovery figure for a scenario, where one applies: its restart (non-destructive
 * crash, or a host failure with the VM restarted elsewhere) and its reinstall (destructive crash).
 * The other scenarios (partitions, a controller restart, quarantine) have no counterpart there.
 */
const PAPER_RECOVERY: Partial<Record<Scenario, string>> = {
  crash: '180 ± 30 s (non-destructive crash: restart)',
  hang: '180 ± 30 s (non-destructive crash: restart)',
  hypervisor: '180 ± 30 s (restart on another host)',
  destructive: '542 ± 45 s (destructive crash: reinstall)',
};
/** The paper detected failures from Ganglia's metrics (60 s polls). */
const PAPER_DETECTION = '100 ± 30 s (Ganglia-based)';

const sec = (x: number | null): string => (x === null ? 'not measured' : `${x.toFixed(1)} s`);

function distribution(name: string, xs: number[]): string {
  const d = summarize(xs);
  if (d.n === 0) return `  ${name}: not measured`;
  return `  ${name}: n ${d.n}, min ${sec(d.min)}, median ${sec(d.p50)}, p90 ${sec(d.p90)}, max ${sec(d.max)}, mean ${d.mean!.toFixed(1)} ± ${d.sd!.toFixed(1)} s`;
}

/** The report as lines; `verbose` adds each run's checks and decision timeline and whole failure messages. */
export function formatCrashReport(scenario: Scenario, runs: readonly CrashRun[], failures: readonly string[], opts: { verbose?: boolean } = {}): string[] {
  const j = crashReportJson(scenario, runs, failures);
  const lines = [`${scenario}: ${j.runs} run(s), ${j.failed} failed, ${j.double_starts} double start(s)`];
  runs.forEach((r, i) => {
    lines.push(`run ${i + 1}: detection ${sec(r.detection_s)}, recovery ${sec(r.recovery_s)}, ssh ${sec(r.ssh_s)}, double starts ${r.doubleStarts}`);
    if (!opts.verbose) return;
    for (const c of r.checks) lines.push(`  checked: ${c}`);
    for (const t of r.timeline) lines.push(`  ${t}`);
  });
  failures.forEach((f, i) => {
    const text = opts.verbose ? f : f.split('\n')[0]!;
    lines.push(...`failed ${i + 1}: ${text}`.split('\n'));
  });
  lines.push('distribution (s from the fault):', distribution('detection', j.detection_s), distribution('recovery', j.recovery_s));
  const recovery = PAPER_RECOVERY[scenario];
  lines.push(`paper: detection ${PAPER_DETECTION}${recovery ? `; recovery ${recovery}` : ''}`);
  return lines;
}
