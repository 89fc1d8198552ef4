/**
 * The Debian package, installed on this machine as an operator would: `npm run package` (or the
 * .deb built after this compile, reused), `dpkg -i`, `systemd-analyze verify` on the installed
 * unit, `3rc check-config /etc/3rc/config.yaml`, then `3rc serve` on that config as the unit
 * runs it (CI has no systemd as PID 1): user 3rc, only the unit's capabilities (setpriv), in a
 * network namespace of this test; real udhcpc, tftp, dig and curl get answers. Then `dpkg -r`
 * keeps /var/lib/3rc and `dpkg -P` deletes it and the user. A python socket plays systemd's
 * notify socket: READY=1, watchdog pings and STOPPING=1 arrive from systemd-notify run by 3rc.
 *
 * Needs root, the tools and a machine without 3rc installed (nor a 3rc user, /etc/3rc or
 * /var/lib/3rc: the test would take them over); skips with the reason otherwise. Whatever
 * happens, it purges the package and removes the user before it ends.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Lab, netnsUnavailable } from './lib/netns.js';
import { awaitReady, ROOT, type Served } from './lib/serve.js';

const TOOLS = ['/usr/bin/dpkg-deb', '/usr/bin/dpkg', '/usr/bin/setpriv', '/usr/bin/systemd-analyze', '/usr/sbin/useradd', '/usr/sbin/udhcpc', '/usr/bin/tftp', '/usr/bin/dig', '/usr/bin/curl', '/usr/bin/python3', '/usr/bin/systemd-notify'];

function alreadyHere(): string | undefined {
  if (spawnSync('dpkg-query', ['-W', '-f=${Status}', '3rc'], { encoding: 'utf8' }).stdout.includes('installed')) return 'the 3rc package is installed on this machine (the test would remove it)';
  if (spawnSync('getent', ['passwd', '3rc']).status === 0) return 'a 3rc user exists on this machine (the test would delete it)';
  for (const p of ['/etc/3rc', '/var/lib/3rc', '/usr/lib/3rc']) if (existsSync(p)) return `${p} exists on this machine (the test would delete it)`;
  return undefined;
}

const skip = netnsUnavailable() ?? TOOLS.filter((t) => !existsSync(t)).map((t) => `needs ${t}`)[0] ?? alreadyHere();
if (skip) console.log(`package test skipped: ${skip}`);

const VM10 = '52:54:00:77:00:10';
const run = (cmd: string, args: string[], opts: { timeoutMs?: number } = {}) =>
  execFileSync(cmd, args, { encoding: 'utf8', timeout: opts.timeoutMs ?? 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
const status = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });

/** The .deb: one `npm run package` made after the last compile (same run), else a fresh build. */
function packageFile(tmp: string): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const arch = run('dpkg', ['--print-architecture']).trim();
  const name = `3rc_${pkg.version}_${arch}.deb`;
  const built = join(ROOT, 'dist', name);
  const compiled = join(ROOT, 'dist', 'src', 'cli', 'main.js');
  if (existsSync(built) && statSync(built).mtimeMs >= statSync(compiled).mtimeMs) return built;
  const r = spawnSync(join(ROOT, 'scripts', 'package.sh'), [], { encoding: 'utf8', env: { ...process.env, THREERC_PKG_OUT: tmp }, timeout: 120_000 });
  assert.equal(r.status, 0, `npm run package failed:\n${r.stdout}\n${r.stderr}`);
  return join(tmp, name);
}

/** Leaves the machine as it was: no 3rc package, user, group or directories. */
function purge(): void {
  status('dpkg', ['--purge', '3rc']);
  if (status('getent', ['passwd', '3rc']).status === 0) status('userdel', ['3rc']);
  if (status('getent', ['group', '3rc']).status === 0) status('groupdel', ['3rc']);
  for (const p of ['/etc/3rc', '/var/lib/3rc', '/usr/lib/3rc']) rmSync(p, { recursive: true, force: true });
}

describe('Debian package: install, serve as the unit does, remove, purge', { skip }, () => {
  let tmp = '';
  let lab: Lab | undefined;
  let served: Served | undefined;
  let systemd: ChildProcess | undefined;

  before(() => {
    tmp = mkdtempSync(join(tmpdir(), '3rc-package-'));
  });

  after(async () => {
    await served?.kill9();
    systemd?.kill();
    await lab?.destroy();
    purge();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('installs, serves DHCP, TFTP, DNS and HTTP as user 3rc with only the unit capabilities (CAP_NET_BIND_SERVICE, CAP_NET_RAW), keeps its state on remove and deletes it on purge', { timeout: 180_000 }, async () => {
    const deb = packageFile(tmp);
    run('dpkg', ['-i', deb], { timeoutMs: 120_000 });

    // What dpkg -i installed.
    assert.ok(existsSync('/usr/bin/3rc'));
    assert.equal(run('/usr/bin/3rc', ['version']).trim().length > 0, true);
    const uid = Number(run('id', ['-u', '3rc']).trim());
    const state = statSync('/var/lib/3rc');
    assert.equal(state.mode & 0o7777, 0o700, '/var/lib/3rc is 0700');
    assert.equal(state.uid, uid, '/var/lib/3rc belongs to 3rc');
    assert.match(run('dpkg-query', ['-W', '-f=${Conffiles}', '3rc']), /\/etc\/3rc\/config\.yaml/, 'the config is a conffile');
    assert.equal(statSync('/etc/3rc/config.yaml').mode & 0o777, 0o640, 'the config is not world-readable');
    const depends = run('dpkg-query', ['-W', '-f=${Depends}', '3rc']);
    assert.match(depends, /nodejs \(>= 20\)/);

    // The unit, as installed (its executables exist now).
    const verify = status('systemd-analyze', ['verify', '/lib/systemd/system/3rc.service']);
    assert.equal(verify.status, 0, `systemd-analyze verify:\n${verify.stdout}${verify.stderr}`);
    assert.doesNotMatch(verify.stderr.replace(/^Accepting user\/group name '3rc'.*$/gm, '').trim(), /./, 'nothing but the note on the digit in "3rc"');

    const check = status('/usr/bin/3rc', ['check-config', '/etc/3rc/config.yaml']);
    assert.equal(check.status, 0, `3rc check-config:\n${check.stdout}${check.stderr}`);

    // A boot file for TFTP and HTTP, where the packaged config looks (paths.boot).
    const loader = Buffer.from(`3rc package test ${process.pid}\n`.repeat(200));
    writeFileSync('/var/lib/3rc/boot/pxelinux.0', loader, { mode: 0o644 });

    // systemd's notify socket, played by python (Node has no unix datagram sockets): what 3rc
    // sends through systemd-notify as user 3rc arrives here, one line per datagram.
    chmodSync(tmp, 0o755);
    const notifySocket = join(tmp, 'notify');
    const notified: string[] = [];
    systemd = spawn('python3', ['-c', `import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666)
print('listening', flush=True)
while True: print(s.recv(4096).decode().replace('\\n', ' '), flush=True)`, notifySocket], { stdio: ['ignore', 'pipe', 'inherit'] });
    const listening = new Promise<void>((resolve) => systemd!.stdout!.on('data', (d: Buffer) => {
      notified.push(...d.toString().split('\n').filter(Boolean));
      if (notified[0] === 'listening') resolve();
    }));
    await listening;

    lab = new Lab('pk');
    const srv = lab.netns('srv');
    const cli = lab.netns('cli');
    const { ifB } = lab.link(srv, '10.77.0.1/24', cli, undefined, { mac: VM10 });
    // As the unit runs it: user and group 3rc, the unit's capabilities only (ambient, bounding set), no new privileges.
    const unit = readFileSync('/lib/systemd/system/3rc.service', 'utf8');
    const caps = /^AmbientCapabilities=(.*)$/m.exec(unit)![1]!.trim().split(/\s+/);
    assert.deepEqual(caps, /^CapabilityBoundingSet=(.*)$/m.exec(unit)![1]!.trim().split(/\s+/), 'the unit bounds what it grants');
    const bit: Record<string, number> = { CAP_NET_BIND_SERVICE: 10, CAP_NET_RAW: 13 };
    assert.deepEqual(caps.filter((c) => !(c in bit)), [], 'every capability of the unit is known to this test');
    const mask = caps.reduce((m, c) => m | (1n << BigInt(bit[c]!)), 0n).toString(16).padStart(16, '0');
    const capList = `-all,${caps.map((c) => `+${c.slice(4).toLowerCase()}`).join(',')}`;
    const proc = lab.spawn(srv, 'setpriv', [
      '--reuid', '3rc', '--regid', '3rc', '--init-groups',
      '--inh-caps', capList, '--ambient-caps', capList, '--bounding-set', capList,
      '--no-new-privs', '/usr/bin/3rc', 'serve', '--config', '/etc/3rc/config.yaml',
    ], { cwd: '/', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', NOTIFY_SOCKET: notifySocket, WATCHDOG_USEC: '1000000' } });
    served = await awaitReady(proc, { url: `netns:${srv}`, timeoutMs: 30_000 });

    const procStatus = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
    assert.match(procStatus, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'), 'runs as 3rc');
    assert.match(procStatus, new RegExp(`^CapEff:\\s+${mask}$`, 'm'), `effective: ${caps.join(', ')} only`);
    assert.match(procStatus, new RegExp(`^CapBnd:\\s+${mask}$`, 'm'), `bounding set: ${caps.join(', ')} only`);

    // DHCP: udhcpc gets vm10's reservation and the boot file.
    const script = join(tmp, 'udhcpc.sh');
    const envFile = join(tmp, 'udhcpc.env');
    writeFileSync(script, `#!/bin/sh\n[ "$1" = bound ] && env > ${envFile}\nexit 0\n`, { mode: 0o755 });
    lab.exec(cli, 'udhcpc', ['-i', ifB, '-q', '-n', '-f', '-t', '3', '-T', '1', '-s', script], { timeoutMs: 20_000 });
    const lease = Object.fromEntries(readFileSync(envFile, 'utf8').split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    assert.equal(lease.ip, '10.77.0.10');
    assert.equal(lease.siaddr, '10.77.0.1');
    assert.equal(lease.boot_file, 'pxelinux.0');
    lab.exec(cli, 'ip', ['addr', 'add', '10.77.0.10/24', 'dev', ifB]);

    // TFTP (tftp-hpa): the boot file, byte for byte.
    const got = join(tmp, 'pxelinux.0');
    lab.exec(cli, 'tftp', ['-m', 'binary', '10.77.0.1', '-c', 'get', 'pxelinux.0', got], { timeoutMs: 20_000 });
    assert.deepEqual(readFileSync(got), loader);

    // DNS: vm10's A record.
    assert.equal(lab.exec(cli, 'dig', ['+short', '+time=2', '+tries=2', '@10.77.0.1', 'vm10.lab.test', 'A']).trim(), '10.77.0.10');

    // HTTP: the same boot file, and the metrics.
    assert.equal(lab.exec(cli, 'curl', ['-fsS', '--max-time', '10', 'http://10.77.0.1/boot/files/pxelinux.0']), loader.toString());
    assert.match(lab.exec(cli, 'curl', ['-fsS', '--max-time', '10', 'http://10.77.0.1/metrics']), /^threerc_/m);

    // Type=notify and WatchdogSec: READY=1, then watchdog pings (every 0.5 s for WATCHDOG_USEC 1 s), for 3rc's pid.
    const mainPid = `MAINPID=${proc.pid}`;
    const seen = (what: string) => notified.some((l) => l.includes(mainPid) && l.includes(what));
    while (!seen('WATCHDOG=1')) await new Promise((r) => setTimeout(r, 100));
    assert.ok(seen('READY=1'), notified.join('\n'));
    assert.ok(!served.lines.some((l) => l.includes('systemd notification failed')), served.lines.join('\n'));

    const stopped = await served.stop();
    served = undefined;
    assert.equal(stopped.code, 0, 'SIGTERM: a clean exit');
    while (!seen('STOPPING=1')) await new Promise((r) => setTimeout(r, 100));
    // What 3rc wrote is its own and private (umask of the process, secureStateDir).
    for (const f of ['/var/lib/3rc/3rc.db', '/var/lib/3rc/api-token']) {
      const st = statSync(f);
      assert.equal(st.uid, uid, `${f} belongs to 3rc`);
      assert.equal(st.mode & 0o077, 0, `${f} is not readable by others`);
    }

    // Remove: the program goes, the state, the config and the user stay.
    run('dpkg', ['-r', '3rc'], { timeoutMs: 60_000 });
    assert.ok(!existsSync('/usr/bin/3rc') && !existsSync('/usr/lib/3rc/bin/3rc.js'), 'the program is gone');
    assert.ok(existsSync('/var/lib/3rc/3rc.db'), 'the store survives dpkg -r');
    assert.deepEqual(readFileSync('/var/lib/3rc/boot/pxelinux.0'), loader, 'boot files survive dpkg -r');
    assert.ok(existsSync('/etc/3rc/config.yaml'), 'the conffile survives dpkg -r');
    assert.equal(status('getent', ['passwd', '3rc']).status, 0, 'the user survives dpkg -r');

    // Purge: everything goes.
    run('dpkg', ['-P', '3rc'], { timeoutMs: 60_000 });
    for (const p of ['/var/lib/3rc', '/etc/3rc', '/usr/lib/3rc']) assert.ok(!existsSync(p), `${p} is deleted on purge`);
    assert.notEqual(status('getent', ['passwd', '3rc']).status, 0, 'the user is deleted on purge');
    assert.notEqual(status('getent', ['group', '3rc']).status, 0, 'the group is deleted on purge');
  });
});
