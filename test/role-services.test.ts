/**
 * The roles' enable_service (kickstarts/roles/common.sh) on a booted system, where cloud-init runs
 * the role step (the cloud-image profile), not in an installer's chroot: with the role's packages
 * skipped (THREERC_ROLE_PACKAGES=skip, the lab) a unit that does not exist is said and skipped, as
 * pkg_install skips the packages; with packages installed a missing unit stays an error. A fake
 * systemctl on PATH records what it is asked; THREERC_SYSTEMD_RUN stands for /run/systemd/system.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT } from './lib/serve.js';

const common = join(ROOT, 'kickstarts', 'roles', 'common.sh');
const work = mkdtempSync(join(tmpdir(), '3rc-role-services-'));
const bin = join(work, 'bin');
const runDir = join(work, 'run-systemd-system');
const calls = join(work, 'calls');
mkdirSync(bin);
mkdirSync(runDir);
// systemd's answers: only ssh.service exists.
writeFileSync(join(bin, 'systemctl'), `#!/bin/sh
echo "$*" >>"${calls}"
for unit; do :; done
case $unit in ssh|ssh.service) exit 0 ;; esac
echo "Failed to enable unit: Unit file $unit.service does not exist." >&2
exit 1
`);
chmodSync(join(bin, 'systemctl'), 0o755);

after(() => rmSync(work, { recursive: true, force: true }));

/** The service lines of the example roles (middleware and services), under their `set -eu`. */
const ROLE_LINES = 'enable_service chrony 2>/dev/null || enable_service chronyd; enable_service tomcat10; enable_service ssh; echo reached';

function run(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string; calls: string[] }> {
  rmSync(calls, { force: true });
  return new Promise((resolve) => {
    execFile('sh', ['-c', `set -eu; . "${common}"; ${ROLE_LINES}`], { timeout: 10_000, env: { PATH: `${bin}:${process.env.PATH}`, THREERC_SYSTEMD_RUN: runDir, ROLE: 'middleware', ...env } }, (err, stdout, stderr) => {
      let seen: string[] = [];
      try {
        seen = readFileSync(calls, 'utf8').trim().split('\n');
      } catch {
        // systemctl never called
      }
      resolve({ code: typeof err?.code === 'number' ? err.code : err ? -1 : 0, stdout, stderr, calls: seen });
    });
  });
}

describe('roles: enable_service on a booted system (kickstarts/roles/common.sh)', () => {
  it('packages skipped: units that do not exist are said and skipped, one that exists is enabled', async () => {
    const r = await run({ THREERC_ROLE_PACKAGES: 'skip' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'reached\n');
    // (chrony's line goes to /dev/null, as in the roles)
    assert.match(r.stderr, /tomcat10 not enabled: no such unit \(packages not installed, THREERC_ROLE_PACKAGES=skip\)/);
    assert.deepEqual(r.calls, ['cat chrony', 'cat tomcat10', 'cat ssh', 'enable --now ssh']);
  });

  it('packages installed: a unit that does not exist fails the role', async () => {
    const r = await run({ THREERC_ROLE_PACKAGES: 'install' });
    assert.notEqual(r.code, 0);
    assert.equal(r.stdout, '');
    assert.deepEqual(r.calls, ['enable --now chrony', 'enable --now chronyd']);
  });

  it('systemd not running (an installer\'s chroot): nothing is asked of systemctl', async () => {
    const r = await run({ THREERC_ROLE_PACKAGES: 'install', THREERC_SYSTEMD_RUN: join(work, 'absent') });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /systemd not running: tomcat10 will start at next boot/);
    assert.deepEqual(r.calls, []);
  });
});
