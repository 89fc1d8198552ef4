/**
 * A complete `image` install with real parts: the real `3rc serve` in a network namespace
 * (10.77.0.0/24, no route out) answers a qemu VM (TCG) that boots the lab installer
 * (boot/lab/installer, built by scripts/lab-image.sh) with direct kernel boot. The installer gets
 * its address from 3rc's DHCP, fetches its per-host script (kickstarts/debian12-image.sh.hbs) with
 * the install token, writes boot/lab/images/debian12.img.gz to a blank disk, runs the HINFO role
 * step against 3rc's DNS, calls back done (3rc flips the host to local boot) and reboots, which
 * ends qemu (-no-reboot). Then the same disk boots on its own: its sshd must answer with the host
 * key the install printed, as vm20, with the role's marker file.
 *
 * The role is the real `services` role, run with rolePackages: skip as in examples/lab.yaml (the
 * lab has no route to a Debian mirror): it installs no package but leaves its marker.
 *
 * Needs root, qemu-system-x86_64, ssh and the boot/lab files; skips with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serveInNetns, type NsServed } from '../dhcp/ns-serve.js';
import { Lab, netnsUnavailable } from '../lib/netns.js';
import { ROOT, writeLabConfig, type LabConfig } from '../lib/serve.js';

const INSTALLER = join(ROOT, 'boot', 'lab', 'installer');
const IMAGE = join(ROOT, 'boot', 'lab', 'images', 'debian12.img.gz');
const MAC = '52:54:00:77:00:20';
const IP = '10.77.0.20';
const ROLE = 'services';
const QEMU = '/usr/bin/qemu-system-x86_64';

function whyNot(): string | undefined {
  const ns = netnsUnavailable();
  if (ns) return ns;
  for (const tool of [QEMU, '/usr/bin/qemu-img', '/usr/bin/ssh', '/usr/bin/ssh-keygen', '/usr/bin/curl']) {
    if (!existsSync(tool)) return `needs ${tool} (apt-get install qemu-system-x86 qemu-utils openssh-client curl)`;
  }
  for (const f of [join(INSTALLER, 'vmlinuz'), join(INSTALLER, 'initrd.gz'), IMAGE, `${IMAGE}.sha256`]) {
    if (!existsSync(f)) return `${f} is missing: build the lab image first (as root: scripts/lab-image.sh)`;
  }
  return undefined;
}
const skip = whyNot();
if (skip) console.log(`image install test skipped: ${skip}`);

/** Runs a command inside a namespace without blocking the event loop (3rc's output keeps draining). */
function nsRun(ns: string, cmd: string, args: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Resolves when the child exits, or rejects after `ms` (the caller kills it). */
function exitOf(child: ChildProcess, ms: number, what: string): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not end within ${secs(ms)}`)), ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

const readText = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : '');

describe('lab: image install of a qemu VM from 3rc, then its first boot', { skip, timeout: 600_000 }, () => {
  let lab: Lab;
  let ns: string;
  let tmp: string;
  let cfg: LabConfig;
  let server: NsServed;
  let apiToken: string;
  const phases: [string, number][] = [];
  const phase = (name: string, ms: number) => {
    phases.push([name, ms]);
    console.log(`image-install: ${name}: ${secs(ms)}`);
  };
  const disk = () => join(tmp, 'disk.qcow2');
  const qemuArgs = (serial: string, extra: string[]) => [
    '-accel', 'tcg', '-m', '1024', '-smp', '2', '-nodefaults', '-display', 'none', '-no-reboot',
    '-serial', `file:${serial}`,
    '-drive', `file=${disk()},if=virtio,format=qcow2,discard=unmap,detect-zeroes=unmap`,
    '-netdev', 'tap,id=n0,ifname=tap0,script=no,downscript=no',
    '-device', `virtio-net-pci,disable-legacy=on,netdev=n0,mac=${MAC}`,
    ...extra,
  ];
  const api = async (method: string, path: string, body?: object) => {
    const args = ['-s', '-X', method, '-H', `Authorization: Bearer ${apiToken}`, '-w', '\n%{http_code}'];
    if (body) args.push('-H', 'content-type: application/json', '-d', JSON.stringify(body));
    const r = await nsRun(ns, 'curl', [...args, `http://10.77.0.1/api/v1${path}`]);
    const i = r.stdout.lastIndexOf('\n');
    return { status: Number(r.stdout.slice(i + 1)), body: r.stdout.slice(0, i) };
  };

  /** Flips vm20 to install and returns the 3rc.image= URL of its boot configuration (with the token). */
  const flipToInstall = async (): Promise<string> => {
    const flip = await api('PUT', '/hosts/vm20/boot', { mode: 'install' });
    assert.equal(flip.status, 200, flip.body);
    const render = await api('GET', '/hosts/vm20/render');
    assert.equal(render.status, 200, `${render.body}\n${server.lines.slice(-5).join('\n')}`);
    const pxelinux = (JSON.parse(render.body) as { pxelinux: { text: string } }).pxelinux.text;
    const m = /3rc\.image=(\S+)/.exec(pxelinux);
    assert.ok(m, `no 3rc.image= in the boot configuration: ${pxelinux}`);
    assert.match(m[1]!, /^http:\/\/10\.77\.0\.1\/ks\/52-54-00-77-00-20\?token=[0-9a-f]+$/);
    return m[1]!;
  };

  before(async () => {
    const t0 = Date.now();
    tmp = mkdtempSync(join(tmpdir(), '3rc-image-install-'));
    lab = new Lab('img');
    ns = lab.netns('srv');
    // 3rc's side of the lab: a bridge at 10.77.0.1 with the VM's tap on it. No route out.
    execFileSync('ip', ['-n', ns, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
    execFileSync('ip', ['-n', ns, 'addr', 'add', '10.77.0.1/24', 'dev', 'br0']);
    execFileSync('ip', ['-n', ns, 'tuntap', 'add', 'dev', 'tap0', 'mode', 'tap']);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'tap0', 'master', 'br0']);
    for (const dev of ['tap0', 'br0']) execFileSync('ip', ['-n', ns, 'link', 'set', dev, 'up']);

    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '3rc-image-test', '-f', join(tmp, 'id_ed25519')]);
    const pub = readFileSync(join(tmp, 'id_ed25519.pub'), 'utf8').trim();

    cfg = await writeLabConfig({
      servers: {
        dhcp: { listen: '0.0.0.0', port: 67 },
        tftp: { enabled: false },
        http: { listen: '0.0.0.0', port: 80 },
        dns: { listen: '0.0.0.0', port: 53 },
      },
      paths: { boot: join(ROOT, 'boot'), kickstarts: join(ROOT, 'kickstarts') },
      vars: { sshKeys: [pub] },
      profiles: [{
        name: 'debian12-image',
        installer: 'image',
        kernel: 'lab/installer/vmlinuz',
        initrd: 'lab/installer/initrd.gz',
        kernelArgs: 'console=ttyS0',
        template: 'debian12-image.sh.hbs',
        // As in examples/lab.yaml: no package mirror in the lab, so the role records itself only.
        vars: { image: 'lab/images/debian12.img.gz', rolePackages: 'skip' },
      }],
      hypervisors: [],
      hosts: [{ name: 'vm20', mac: MAC, ip: IP, profile: 'debian12-image', role: ROLE }],
      ha: { enabled: false },
    });
    server = await serveInNetns(lab, ns, cfg, { timeoutMs: 30_000 });
    apiToken = readFileSync(join(cfg.dir, 'api-token'), 'utf8').trim();
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk(), '4G']);
    phase('lab set up (namespace, bridge, tap, 3rc ready, blank 4 GiB disk)', Date.now() - t0);
  });

  after(async () => {
    await server?.stop().catch(() => undefined);
    await lab?.destroy();
    cfg?.cleanup();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    if (phases.length) console.log(`image-install: phases\n${phases.map(([n, ms]) => `  ${secs(ms).padStart(8)}  ${n}`).join('\n')}`);
  });

  let hostKeys: string[] = [];

  it('installs the image: DHCP, script with the token, write, role step, done callback, flip to local, reboot', async () => {
    const ksUrl = await flipToInstall();

    const serial = join(tmp, 'install-serial.log');
    const t0 = Date.now();
    const vm = lab.spawn(ns, QEMU, qemuArgs(serial, [
      '-kernel', join(INSTALLER, 'vmlinuz'),
      '-initrd', join(INSTALLER, 'initrd.gz'),
      '-append', `console=ttyS0 3rc.pause=3 3rc.image=${ksUrl}`,
    ]), { stdio: ['ignore', 'ignore', 'pipe'] });
    let qemuErr = '';
    vm.stderr!.on('data', (d: Buffer) => (qemuErr += d.toString()));

    // Follow the serial console to time the phases as they happen.
    const marks: [RegExp, string][] = [
      [/3rc-installer: .*started/, 'qemu start -> installer /init running'],
      [/3rc-installer: .*DHCP on/, 'qemu start -> installer has its DHCP lease'],
      [/3rc-install: installing/, 'qemu start -> install script fetched and running'],
      [/3rc-install: sha256 ok/, 'qemu start -> image fetched, written and verified'],
      [/3rc-install: role .* installed/, 'qemu start -> role step done'],
      [/3rc-install: done callback answered/, 'qemu start -> done callback answered'],
    ];
    const seen = new Set<string>();
    const follow = setInterval(() => {
      const text = readText(serial);
      for (const [re, name] of marks) {
        if (!seen.has(name) && re.test(text)) {
          seen.add(name);
          phase(name, Date.now() - t0);
        }
      }
    }, 500);
    let code: number | null;
    try {
      code = await exitOf(vm, 300_000, 'the install VM');
    } finally {
      clearInterval(follow);
    }
    const end = readText(serial);
    for (const [re, name] of marks) if (!seen.has(name) && re.test(end)) phase(`${name} (seen at exit)`, Date.now() - t0);
    phase('install VM: qemu start -> reboot (qemu exit)', Date.now() - t0);
    const log = readText(serial);
    const ours = log.split('\n').filter((l) => l.startsWith('3rc-install')).join('\n');
    console.log(`image-install: the installer's console:\n${ours}`);
    const diag = () => `\n3rc's last log lines:\n${server.lines.slice(-15).join('\n')}\n3rc stderr: ${server.stderr().slice(-2000)}`;
    assert.equal(code, 0, `qemu failed: ${qemuErr}${diag()}`);
    for (const re of [
      /3rc-installer: .*loaded \d+ modules/,
      /3rc-installer: .*DHCP on eth0: 10\.77\.0\.20\/24/,
      /3rc-installer: .*running the install script/,
      /3rc-install: disk \/dev\/vda, 4096 MiB/,
      /3rc-install: fetched \d+ MB in [\d.]+ s \([\d.]+ MB\/s\), uncompressed to \/dev\/vda/,
      /3rc-install: wrote \d+ MiB \(the image's partitions\) to \/dev\/vda/,
      /3rc-install: sha256 ok/,
      /3rc-install: partition vda2 grown from \d+ MiB to \d+ MiB/,
      /3rc-install: root filesystem \/dev\/vda2 mounted/,
      /3rc-install: identity: vm20\.lab\.test, machine-id [0-9a-f]{32}, 1 root key\(s\)/,
      new RegExp(`3rc-install: role ${ROLE} installed`),
      /3rc-install: done callback answered: .*"result":"done"/,
      /3rc-install: rebooting into the installed system/,
    ]) assert.match(ours, re, `${re} not on the console${diag()}`);
    assert.doesNotMatch(ours, /ERROR|FAILED/);
    hostKeys = [...log.matchAll(/^3rc-install: ssh host key: (\S+ \S+)/gm)].map((x) => x[1]!);
    assert.ok(hostKeys.some((k) => k.startsWith('ssh-ed25519 ')), ours);

    // 3rc saw it: kickstart served with the token, done called back, host flipped to local.
    const host = JSON.parse((await api('GET', '/hosts/vm20')).body) as { boot: { mode: string; lastInstall: string | null } };
    assert.deepEqual([host.boot.mode, host.boot.lastInstall], ['local', 'done']);
    const events = JSON.parse((await api('GET', '/hosts/vm20/events')).body) as { kind: string; reason: string | null; data: Record<string, unknown> }[];
    const kinds = events.map((e) => e.kind);
    assert.ok(kinds.includes('http.kickstart') || kinds.includes('install.done'), `events: ${kinds.join(' ')}`);
    assert.ok(kinds.some((k) => k === 'install.done' || k === 'http.install-done'), `no install.done in ${kinds.join(' ')}`);
    assert.ok(!JSON.stringify(events).includes('"install.failed"'), 'no failed callback');
  });

  it('the installed disk boots on its own: DHCP from 3rc, sshd with the printed host key, hostname, role marker', async (t) => {
    if (hostKeys.length === 0) return t.skip('the install did not finish');
    const serial = join(tmp, 'boot-serial.log');
    const knownHosts = join(tmp, 'known_hosts');
    writeFileSync(knownHosts, hostKeys.map((k) => `${IP} ${k}\n`).join(''));
    const t0 = Date.now();
    const vm = lab.spawn(ns, QEMU, qemuArgs(serial, ['-boot', 'c']), { stdio: ['ignore', 'ignore', 'pipe'] });
    let qemuErr = '';
    vm.stderr!.on('data', (d: Buffer) => (qemuErr += d.toString()));
    const ssh = (cmd: string, timeoutMs = 20_000) => nsRun(ns, 'ssh', [
      '-i', join(tmp, 'id_ed25519'), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes',
      '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR',
      `root@${IP}`, cmd,
    ], timeoutMs);
    let out: { code: number; stdout: string; stderr: string } = { code: -1, stdout: '', stderr: '' };
    let sawLogin = false;
    const deadline = t0 + 180_000;
    while (Date.now() < deadline) {
      if (vm.exitCode !== null) break;
      if (!sawLogin && /login:/.test(readText(serial))) {
        sawLogin = true;
        phase('first boot: qemu start -> login prompt on ttyS0', Date.now() - t0);
      }
      out = await ssh('hostname; cat /etc/3rc/role; ip -4 -o addr show scope global | awk \'{print $4}\'; cat /etc/machine-id; systemctl is-system-running || true');
      if (out.code === 0) break;
      await sleep(3000);
    }
    phase('first boot: qemu start -> sshd answers with the installed host key', Date.now() - t0);
    try {
      assert.equal(out.code, 0, `ssh to ${IP} failed: ${out.stderr}\nqemu: ${qemuErr}\nconsole:\n${readText(serial).slice(-3000)}`);
      const [hostname, role, addr, machineId] = out.stdout.trim().split('\n');
      assert.equal(hostname, 'vm20');
      assert.equal(role, ROLE);
      assert.equal(addr, `${IP}/24`);
      assert.match(machineId!, /^[0-9a-f]{32}$/);
      const failedUnits = await ssh('systemctl --failed --no-legend --plain');
      console.log(`image-install: installed system state: ${out.stdout.trim().split('\n')[4] ?? '?'}; failed units: ${failedUnits.stdout.trim() || 'none'}`);
      // Its host keys are the ones the install printed, not any baked into the image.
      const keys = await ssh('cat /etc/ssh/ssh_host_*_key.pub');
      for (const k of hostKeys) assert.ok(keys.stdout.includes(k), `host key ${k.slice(0, 30)}... not on the installed system`);
      // The installed system got its lease from 3rc (still local boot: no reinstall loop).
      const host = JSON.parse((await api('GET', '/hosts/vm20')).body) as { boot: { mode: string } };
      assert.equal(host.boot.mode, 'local');
    } finally {
      const t1 = Date.now();
      await ssh('systemctl poweroff', 10_000);
      await exitOf(vm, 60_000, 'the installed VM').catch(() => vm.kill('SIGKILL'));
      phase('first boot: poweroff -> qemu exit', Date.now() - t1);
    }
  });

  it('a failed install says why on the console, posts its log to 3rc and reboots (here: no disk)', async () => {
    const ksUrl = await flipToInstall();
    const serial = join(tmp, 'nodisk-serial.log');
    const t0 = Date.now();
    const vm = lab.spawn(ns, QEMU, [
      '-accel', 'tcg', '-m', '512', '-nodefaults', '-display', 'none', '-no-reboot', '-serial', `file:${serial}`,
      '-netdev', 'tap,id=n0,ifname=tap0,script=no,downscript=no',
      '-device', `virtio-net-pci,disable-legacy=on,netdev=n0,mac=${MAC}`,
      '-kernel', join(INSTALLER, 'vmlinuz'), '-initrd', join(INSTALLER, 'initrd.gz'),
      '-append', `console=ttyS0 3rc.pause=2 3rc.image=${ksUrl}`,
    ], { stdio: ['ignore', 'ignore', 'ignore'] });
    const code = await exitOf(vm, 120_000, 'the VM without a disk');
    phase('failed install (no disk): qemu start -> reboot (qemu exit)', Date.now() - t0);
    assert.equal(code, 0);
    const log = readText(serial);
    assert.match(log, /3rc-install: ERROR: no disk: neither \/dev\/vda nor \/dev\/sda exists/);
    assert.match(log, /3rc-install: FAILED after [\d.]+ s; sending the log to 3rc/);
    assert.match(log, /3rc-install: rebooting in 2 s/);
    const host = JSON.parse((await api('GET', '/hosts/vm20')).body) as { boot: { mode: string; lastInstall: string | null } };
    assert.deepEqual([host.boot.mode, host.boot.lastInstall], ['local', 'failed']);
    const events = JSON.parse((await api('GET', '/hosts/vm20/events')).body) as { kind: string; data: { log?: string } }[];
    const failed = events.filter((e) => e.kind === 'install.failed').pop();
    assert.ok(failed, `no install.failed event: ${events.map((e) => e.kind).join(' ')}`);
    assert.match(failed.data.log ?? '', /ERROR: no disk/);
  });
});
