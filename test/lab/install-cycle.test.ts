/**
 * A complete install and the one-shot flip, with real firmware and a real installed system:
 * vm14 (profile debian12-image) PXE-boots from 3rc (SeaBIOS + iPXE ROM -> iPXE script over HTTP),
 * the lab's installer writes the Debian image to its disk, runs the HINFO role step against 3rc's
 * DNS, and calls install-done with its token; 3rc flips the host to local; the VM reboots,
 * PXE-boots again, is told to boot locally, boots its disk and answers on SSH (host key checked
 * against the key the installer printed). Then the reinstall path: a marker file is written,
 * the host is flipped to install through the API and power-cycled, and it comes back freshly
 * installed (the marker is gone, new SSH host keys, its role applied again).
 * Every phase's time is printed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RunningLab } from '../../src/lab/lab.js';
import { labUnavailable } from '../../src/lab/topology.js';
import type { StoreEvent } from '../../src/store/store.js';
import { ROOT } from '../lib/serve.js';

const IMAGE = join(ROOT, 'boot', 'lab', 'images', 'debian12.img.gz');
const skip = labUnavailable() ?? (existsSync(IMAGE) && existsSync(join(ROOT, 'boot', 'lab', 'installer', 'vmlinuz')) ? undefined : 'the lab image is not built (run scripts/lab-image.sh)');
if (skip) console.log(`# SKIP lab install cycle: ${skip}`);

const HOST = 'vm14';
const WAIT = 10 * 60_000;

interface Cycle {
  phases: Record<string, number>;
  hostKeys: string[];
}

/** Waits for one install: PXE, installer, image, role, done, flip, reboot into the disk, SSH. */
async function installCycle(lab: RunningLab, key: string, knownHosts: string, from: number, t0: number, serialFrom: string): Promise<Cycle> {
  const phases: Record<string, number> = {};
  const imageSize = statSync(IMAGE).size;
  const at = (name: string, e: StoreEvent, plusMs = 0) => (phases[name] = Math.round((e.at + plusMs - t0) / 100) / 10);
  const after = (pred: (e: StoreEvent) => boolean, what: string) => lab.waitEvent(HOST, pred, WAIT, what, from);
  at('DHCP ACK (iPXE)', await after((e) => e.kind === 'dhcp.request' && String(e.reason).startsWith('ack') && e.data?.client === 'ipxe', 'DHCP ACK'));
  at('iPXE script (install)', await after((e) => e.kind === 'http.ipxe' && e.data?.mode === 'install', 'iPXE install script'));
  const initrd = await after((e) => e.kind === 'http.file' && e.data?.file === '/boot/files/lab/installer/initrd.gz' && e.reason === 'complete', 'installer initrd over HTTP');
  at('installer kernel+initrd fetched', initrd, Number(initrd.data?.ms ?? 0));
  const script = await after((e) => e.kind === 'http.kickstart' && e.data?.status === 200, 'install script fetch');
  assert.equal(script.data?.profile, 'debian12-image');
  at('install script fetched', script);
  const image = await after((e) => e.kind === 'http.file' && e.data?.file === '/boot/files/lab/images/debian12.img.gz' && e.reason === 'complete', 'image fetch');
  assert.equal(image.data?.bytes, imageSize, 'the whole image was sent');
  at('image fetched', image, Number(image.data?.ms ?? 0));
  const hinfo = await after((e) => e.kind === 'dns.query' && e.data?.name === `${HOST}.lab.test` && e.data?.type === 13, 'HINFO lookup');
  assert.equal(hinfo.reason, 'NOERROR');
  at('HINFO asked', hinfo);
  at('install-done', await after((e) => e.kind === 'install.done', 'install-done'));
  const flip = await after((e) => e.kind === 'boot.set' && e.data?.mode === 'local', 'flip to local');
  at('flipped to local', flip);
  at('iPXE script (local)', await lab.waitEvent(HOST, (e) => e.kind === 'http.ipxe' && e.data?.mode === 'local', WAIT, 'PXE boot after the install, told local', lab.events.indexOf(flip)));
  // The installer printed the new system's SSH host keys on the console: trust exactly those.
  const serial = () => (lab.vms.get(HOST)?.serial() ?? '').slice(serialFrom.length);
  const keys = [...serial().matchAll(/3rc-install: ssh host key: (ssh-[a-z0-9-]+|ecdsa-[a-z0-9-]+) ([A-Za-z0-9+/=]+)/g)].map((m) => `${m[1]} ${m[2]}`);
  assert.ok(keys.length > 0, 'the installer printed the SSH host keys');
  writeFileSync(knownHosts, keys.map((k) => `${lab.host(HOST).ip} ${k}`).join('\n') + '\n');
  const deadline = Date.now() + WAIT;
  let hostname = '';
  for (;;) {
    try {
      hostname = (await lab.ssh(HOST, key, knownHosts, 'hostname', 20_000)).trim();
      break;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${HOST} never answered on SSH: ${(err as Error).message}\n${lab.serialTail(HOST)}`);
      await new Promise((r) => setTimeout(r, 3000));
    }
  }
  phases['SSH answers'] = Math.round((Date.now() - t0) / 100) / 10;
  assert.equal(hostname, HOST);
  return { phases, hostKeys: keys };
}

describe('lab: a complete image install, the one-shot flip, and a reinstall', { skip }, () => {
  it('installs vm14 over PXE, boots it from its disk, reinstalls it through the API', { timeout: 30 * 60_000 }, async () => {
    const workDir = mkdtempSync(join(tmpdir(), '3rc-lab-cycle-'));
    const key = join(workDir, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const knownHosts = join(workDir, 'known_hosts');
    const lab = await RunningLab.start({ prefix: `L${process.pid % 10000}c`, workDir, sshPublicKey: readFileSync(`${key}.pub`, 'utf8'), log: (l) => console.log(`# ${l}`) });
    try {
      const flip1 = await lab.api('PUT', `/hosts/${HOST}/boot`, { mode: 'install', reason: 'first install' });
      assert.equal(flip1.status, 200, JSON.stringify(flip1.body));
      const vm = lab.bootVm({ host: HOST, firmware: 'bios', diskGb: 4 });
      const first = await installCycle(lab, key, knownHosts, 0, vm.startedAt, '');
      console.log(`# install phase timings (s since power-on): ${Object.entries(first.phases).map(([k, v]) => `${k} ${v}`).join(', ')}`);

      // The installed system: its role from HINFO applied (the marker the role writes), its hostname.
      assert.equal((await lab.ssh(HOST, key, knownHosts, 'cat /etc/3rc/role')).trim(), 'middleware');
      await lab.ssh(HOST, key, knownHosts, 'echo before-reinstall > /root/marker && sync');

      // Reinstall: flip through the API, power-cycle, and it comes back freshly installed.
      const from = lab.events.length;
      const flip2 = await lab.api('PUT', `/hosts/${HOST}/boot`, { mode: 'install', reason: 'reinstall test' });
      assert.equal(flip2.status, 200, JSON.stringify(flip2.body));
      await lab.powerOff(HOST);
      const vm2 = lab.bootVm({ host: HOST, firmware: 'bios', diskGb: 4 });
      const second = await installCycle(lab, key, knownHosts, from, vm2.startedAt, '');
      console.log(`# reinstall phase timings (s since power-on): ${Object.entries(second.phases).map(([k, v]) => `${k} ${v}`).join(', ')}`);
      assert.notDeepEqual(second.hostKeys, first.hostKeys, 'a reinstall gets new SSH host keys');
      assert.equal((await lab.ssh(HOST, key, knownHosts, 'test -e /root/marker && echo still-there || echo gone')).trim(), 'gone');
      assert.equal((await lab.ssh(HOST, key, knownHosts, 'cat /etc/3rc/role')).trim(), 'middleware');
      const entry = await lab.api('GET', `/hosts/${HOST}/boot`);
      assert.equal((entry.body as { mode: string }).mode, 'local');
    } finally {
      await lab.stop();
      rmSync(workDir, { recursive: true, force: true });
    }
  });
});
