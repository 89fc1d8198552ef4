/**
 * The `image` install's failure path with real parts: the real `3rc serve` in a network namespace
 * (10.77.0.0/24, no route out) answers a qemu VM (TCG) without a disk that boots the lab installer
 * (boot/lab/installer, built by scripts/lab-image.sh) with direct kernel boot. The installer gets
 * its address from 3rc's DHCP, fetches its per-host script with the install token, finds no disk,
 * says why on its console, posts its log to 3rc (install.failed) and reboots, which ends qemu
 * (-no-reboot).
 *
 * The success path (image written, role step, done callback, flip to local, first boot with the
 * printed host keys, reinstall) is checked on every install of the HA lab (HaLab.verifyInstall,
 * run from ha-crash.test.ts), where the VMs install over PXE anyway.
 *
 * Needs root, qemu-system-x86_64, curl and the boot/lab files; skips with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serveInNetns, type NsServed } from '../dhcp/ns-serve.js';
import { Lab, netnsUnavailable } from '../lib/netns.js';
import { bridgeWithTap, NS_SERVED, nsRun } from '../lib/ns-run.js';
import { labBudget, LabNetwork, labWorkDir, teardownOnExit } from '../../src/lab/topology.js';
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
  for (const tool of [QEMU, '/usr/bin/curl']) {
    if (!existsSync(tool)) return `needs ${tool} (apt-get install qemu-system-x86 curl)`;
  }
  for (const f of [join(INSTALLER, 'vmlinuz'), join(INSTALLER, 'initrd.gz'), IMAGE, `${IMAGE}.sha256`]) {
    if (!existsSync(f)) return `${f} is missing: build the lab image first (as root: scripts/lab-image.sh)`;
  }
  return undefined;
}
const skip = whyNot();
if (skip) console.log(`image install test skipped: ${skip}`);

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

describe('lab: a failed image install of a qemu VM from 3rc', { skip }, () => {
  let lab: Lab;
  let ns: string;
  let tmp: string;
  let work: ReturnType<typeof labWorkDir> | undefined;
  let cfg: LabConfig;
  let server: NsServed;
  let apiToken: string;
  let untrack: (() => void) | undefined;
  const phases: [string, number][] = [];
  const phase = (name: string, ms: number) => {
    phases.push([name, ms]);
    console.log(`image-install: ${name}: ${secs(ms)}`);
  };
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
    work = labWorkDir('image-install');
    tmp = work.dir;
    lab = new Lab('img');
    // The safety net: this process killed with the lab up still deletes its namespace (and qemu, 3rc).
    untrack = teardownOnExit(() => LabNetwork.destroyAll(lab.prefix));
    ns = lab.netns('srv');
    // 3rc's side of the lab: a bridge at 10.77.0.1 with the VM's tap on it. No route out.
    bridgeWithTap(ns);


    cfg = await writeLabConfig({
      ...NS_SERVED,
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
    phase('lab set up (namespace, bridge, tap, 3rc ready)', Date.now() - t0);
  }, { timeout: labBudget(30_000) });

  after(async () => {
    await server?.stop().catch(() => undefined);
    await lab?.destroy();
    untrack?.();
    cfg?.cleanup();
    work?.remove();
    if (phases.length) console.log(`image-install: phases\n${phases.map(([n, ms]) => `  ${secs(ms).padStart(8)}  ${n}`).join('\n')}`);
  });

  it('a failed install says why on the console, posts its log to 3rc and reboots (here: no disk)', { timeout: labBudget(90_000) }, async () => {
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
