import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { killable } from './ssh.js';

// What sshd does with an exec request: `$SHELL -c COMMAND`, stdin a pipe.
function viaShell(command: string, stdin = ''): { status: number | null; stdout: string } {
  const r = spawnSync('/bin/sh', ['-c', killable(command)], { input: stdin, encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, stdout: r.stdout };
}

describe('killable wrapper', () => {
  it('runs the command unchanged: quoting, exit status, output', () => {
    assert.deepEqual(viaShell(`printf '%s|' "it's" 'a b'; exit 7`), { status: 7, stdout: "it's|a b|" });
  });

  it('gives the command /dev/null as stdin (the watchdog owns the channel)', () => {
    assert.deepEqual(viaShell('cat; echo done', 'not for the command\n'), { status: 0, stdout: 'done\n' });
  });

  it('does not make `wait` in the command wait for the watchdog', () => {
    assert.deepEqual(viaShell('sleep 0 & wait; echo waited'), { status: 0, stdout: 'waited\n' });
  });

  it('kills the command when the channel says KILL', () => {
    // setsid: the watchdog kills its process group, which must not be this test runner's.
    const r = spawnSync('setsid', ['/bin/sh', '-c', killable('sleep 30; echo survived')], { input: 'KILL\n', encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.signal, 'SIGKILL');
    assert.equal(r.stdout, '');
  });
});
