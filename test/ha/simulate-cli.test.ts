/** `3rc simulate` through the CLI's dispatch, in-process. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/io.js';

function io(): Io & { out_: string[]; err_: string[] } {
  const out_: string[] = [];
  const err_: string[] = [];
  return { out_, err_, out: (l) => void out_.push(l), err: (l) => void err_.push(l), env: {} };
}

describe('3rc simulate', () => {
  it('prints one JSON object per scenario with the documented fields', async () => {
    const t = io();
    const code = await main(['simulate', '--scenario', 'non-destructive,host-failure', '--runs', '20', '--timings', 'default', '--seed', '7', '--json'], t);
    assert.equal(code, 0, t.err_.join('\n'));
    assert.equal(t.out_.length, 2);
    for (const line of t.out_) {
      const r = JSON.parse(line) as Record<string, unknown>;
      for (const k of ['scenario', 'timings', 'runs', 'mean_s', 'sd_s', 'p50_s', 'p95_s', 'max_s', 'detect_mean_s', 'last_rung_mean_s', 'double_starts']) assert.ok(k in r, k);
      assert.equal(r.runs, 20);
      assert.equal(r.double_starts, 0);
    }
  });

  it('prints the figures and a histogram as text', async () => {
    const t = io();
    assert.equal(await main(['simulate', '--scenario', 'destructive', '--runs', '10', '--timings', 'paper'], t), 0);
    const text = t.out_.join('\n');
    assert.match(text, /scenario destructive, timings paper, 10 runs \(seed 1\)/);
    assert.match(text, /detection \+ last rung [0-9.]+ s/);
    assert.match(text, /double starts: 0/);
    assert.ok(t.out_.filter((l) => / \| #*/.test(l)).length >= 5, 'histogram lines');
  });

  it('refuses a bad scenario, timings or count', async () => {
    for (const args of [['--scenario', 'meteor'], ['--scenario', 'partition', '--timings', 'fast'], ['--scenario', 'partition', '--runs', '0'], []]) {
      const t = io();
      assert.equal(await main(['simulate', ...args], t), 2, args.join(' '));
      assert.ok(t.err_.length > 0);
    }
  });

  it('has --help', async () => {
    const t = io();
    assert.equal(await main(['simulate', '--help'], t), 0);
    assert.match(t.out_[0]!, /^Usage: 3rc simulate/);
  });
});
