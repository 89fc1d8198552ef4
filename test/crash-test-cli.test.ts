/** `3rc crash-test`'s command line through the CLI's dispatch, in-process: help and usage errors, checked before any lab is built. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { main } from '../src/cli/main.js';
import { SCENARIOS } from '../src/lab/crash-scenarios.js';

/** Runs `3rc ARGS`; resolves to the exit code and what it printed. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => void out.push(l), err: (l) => void err.push(l), env: {} });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

describe('3rc crash-test command line', () => {
  it('has --help naming every scenario, and is listed in the command list', async () => {
    const help = await cli(['crash-test', '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: 3rc crash-test/);
    for (const s of SCENARIOS) assert.match(help.stdout, new RegExp(`\\n  ${s} +\\S`), s);
    const top = await cli(['--help']);
    assert.match(top.stdout, /\n {2}crash-test {5}/);
  });

  it('exits 2 on an unknown scenario, naming the valid ones', async () => {
    const r = await cli(['crash-test', '--scenario', 'crash', '--scenario', 'nope']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`unknown scenario "nope": expected one of ${SCENARIOS.join(', ')}`));
    assert.match(r.stderr, /Run '3rc crash-test --help' for usage/);
    assert.equal(r.stdout, '');
  });

  it('exits 2 when --runs is not 1 to 1000, or on a stray argument or option', async () => {
    for (const runs of ['0', '1001', '-1', '2.5', 'ten']) {
      const r = await cli(['crash-test', `--runs=${runs}`]);
      assert.equal(r.code, 2, `${runs}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`--runs expects an integer from 1 to 1000, got "${runs.replace('.', '\\.')}"`), runs);
    }
    const extra = await cli(['crash-test', 'crash']);
    assert.equal(extra.code, 2);
    assert.match(extra.stderr, /unexpected argument crash/);
    const opt = await cli(['crash-test', '--seed', '1']);
    assert.equal(opt.code, 2);
    assert.match(opt.stderr, /Unknown option '--seed'/);
  });
});
