import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crashReportJson, formatCrashReport, summarize } from './crash-report.js';
import type { CrashRun } from './crash-scenarios.js';

function run(detection_s: number | null, recovery_s: number | null, extra: Partial<CrashRun> = {}): CrashRun {
  return { scenario: 'crash', vm: 'vm14', detection_s, recovery_s, ssh_s: recovery_s === null ? null : recovery_s + 1.7, doubleStarts: 0, timeline: [], checks: [], ...extra };
}

describe('summarize', () => {
  it('gives nearest-rank median and p90, min, max, mean and sample sd', () => {
    const d = summarize([10, 1, 9, 2, 8, 3, 7, 4, 6, 5]);
    assert.deepEqual({ ...d, sd: Number(d.sd!.toFixed(4)) }, { n: 10, min: 1, p50: 5, p90: 9, max: 10, mean: 5.5, sd: 3.0277 });
    assert.deepEqual(summarize([1, 2, 3, 4]), { n: 4, min: 1, p50: 2, p90: 4, max: 4, mean: 2.5, sd: Math.sqrt(5 / 3) });
  });

  it('has sd 0 for one sample and nulls for none', () => {
    assert.deepEqual(summarize([61.3]), { n: 1, min: 61.3, p50: 61.3, p90: 61.3, max: 61.3, mean: 61.3, sd: 0 });
    assert.deepEqual(summarize([]), { n: 0, min: null, p50: null, p90: null, max: null, mean: null, sd: null });
  });

  it('does not reorder the caller\'s array', () => {
    const xs = [3, 1, 2];
    summarize(xs);
    assert.deepEqual(xs, [3, 1, 2]);
  });
});

describe('crashReportJson', () => {
  it('is exactly the documented object: attempted runs, measured values in run order, sums', () => {
    const runs = [run(8.1, 61.3), run(null, null, { doubleStarts: 1 }), run(7.5, null), run(9, 70.2, { doubleStarts: 2 })];
    const j = crashReportJson('crash', runs, ['crash (vm14): no recovery within 360 s']);
    assert.deepEqual(Object.keys(j), ['scenario', 'runs', 'detection_s', 'recovery_s', 'double_starts', 'failed']);
    assert.deepEqual(j, { scenario: 'crash', runs: 5, detection_s: [8.1, 7.5, 9], recovery_s: [61.3, 70.2], double_starts: 3, failed: 1 });
    assert.equal(JSON.stringify(j), '{"scenario":"crash","runs":5,"detection_s":[8.1,7.5,9],"recovery_s":[61.3,70.2],"double_starts":3,"failed":1}');
  });

  it('counts failed runs when none finished', () => {
    assert.deepEqual(crashReportJson('hang', [], ['a', 'b']), { scenario: 'hang', runs: 2, detection_s: [], recovery_s: [], double_starts: 0, failed: 2 });
  });
});

describe('formatCrashReport', () => {
  it('prints a line a run, the distributions and the paper\'s figures for a restart', () => {
    const lines = formatCrashReport('crash', [run(8.1, 61.3), run(7.9, 58.7)], []);
    assert.deepEqual(lines, [
      'crash: 2 run(s), 0 failed, 0 double start(s)',
      'run 1: detection 8.1 s, recovery 61.3 s, ssh 63.0 s, double starts 0',
      'run 2: detection 7.9 s, recovery 58.7 s, ssh 60.4 s, double starts 0',
      'distribution (s from the fault):',
      '  detection: n 2, min 7.9 s, median 7.9 s, p90 8.1 s, max 8.1 s, mean 8.0 ± 0.1 s',
      '  recovery: n 2, min 58.7 s, median 58.7 s, p90 61.3 s, max 61.3 s, mean 60.0 ± 1.8 s',
      'paper: detection 100 ± 30 s (Ganglia-based); recovery 180 ± 30 s (non-destructive crash: restart)',
    ]);
  });

  it('says "not measured" for null values and for an empty distribution', () => {
    const lines = formatCrashReport('management-link', [run(null, null, { scenario: 'management-link' })], []);
    assert.equal(lines[1], 'run 1: detection not measured, recovery not measured, ssh not measured, double starts 0');
    assert.ok(lines.includes('  detection: not measured'));
    assert.ok(lines.includes('  recovery: not measured'));
  });

  it('shows the paper\'s recovery only where it applies, the detection always', () => {
    const paper = (s: Parameters<typeof formatCrashReport>[0]) => formatCrashReport(s, [], []).at(-1);
    assert.equal(paper('destructive'), 'paper: detection 100 ± 30 s (Ganglia-based); recovery 542 ± 45 s (destructive crash: reinstall)');
    assert.equal(paper('hang'), 'paper: detection 100 ± 30 s (Ganglia-based); recovery 180 ± 30 s (non-destructive crash: restart)');
    assert.equal(paper('hypervisor'), 'paper: detection 100 ± 30 s (Ganglia-based); recovery 180 ± 30 s (restart on another host)');
    for (const s of ['partition', 'partition-fenced', 'management-link', 'controller-restart', 'no-reinstall'] as const) {
      assert.equal(paper(s), 'paper: detection 100 ± 30 s (Ganglia-based)', s);
    }
  });

  it('lists failures by their first line; verbose adds checks, timeline and whole messages', () => {
    const r = run(8.1, 61.3, { checks: ['restarted on the same hypervisor (hv1)'], timeline: ['+8.1 s vm14: running -> suspect (probe-failed)'] });
    const failure = 'crash (vm14): no recovery\ndecisions since the fault:\n  (none)';
    const short = formatCrashReport('crash', [r], [failure]);
    assert.equal(short[0], 'crash: 2 run(s), 1 failed, 0 double start(s)');
    assert.deepEqual(short.slice(1, 3), ['run 1: detection 8.1 s, recovery 61.3 s, ssh 63.0 s, double starts 0', 'failed 1: crash (vm14): no recovery']);
    assert.ok(!short.some((l) => l.includes('checked:') || l.includes('suspect') || l.includes('decisions since')));
    const long = formatCrashReport('crash', [r], [failure], { verbose: true });
    assert.deepEqual(long.slice(1, 7), [
      'run 1: detection 8.1 s, recovery 61.3 s, ssh 63.0 s, double starts 0',
      '  checked: restarted on the same hypervisor (hv1)',
      '  +8.1 s vm14: running -> suspect (probe-failed)',
      'failed 1: crash (vm14): no recovery',
      'decisions since the fault:',
      '  (none)',
    ]);
  });
});
