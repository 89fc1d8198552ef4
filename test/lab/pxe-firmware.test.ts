/**
 * Real network boot with real firmware and the real Debian installer, in a lab of namespaces:
 * - BIOS: SeaBIOS + qemu's iPXE ROM treated as plain PXE firmware (servers.dhcp.ipxeScript false):
 *   DHCP -> pxelinux.0, ldlinux.c32, pxelinux.cfg/01-<mac> over TFTP -> kernel, initrd over TFTP;
 * - UEFI: OVMF's own network stack (no option ROM): DHCP with architecture 7 -> syslinux.efi,
 *   ldlinux.e64, its config, kernel and initrd over TFTP;
 * - iPXE fast path (default settings): the iPXE script over HTTP, kernel and initrd over HTTP, no TFTP.
 * Each ends when the Debian installer, having configured its network from 3rc's DHCP, fetched its
 * preseed with its per-install token. Asserted from 3rc's boot trace and the serial consoles;
 * every phase's time is printed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RunningLab } from '../../src/lab/lab.js';
import { labUnavailable } from '../../src/lab/topology.js';
import type { StoreEvent } from '../../src/store/store.js';
import { ROOT } from '../lib/serve.js';

function bootFilesMissing(): string | undefined {
  try {
    execFileSync(join(ROOT, 'boot', 'fetch.sh'), ['--check'], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return `boot files missing (run boot/fetch.sh): ${String((err as { stdout?: Buffer }).stdout ?? '').trim()}`;
  }
}

const skip = labUnavailable() ?? bootFilesMissing();
if (skip) console.log(`# SKIP lab PXE tests: ${skip}`);

const INITRD_SIZE = skip ? 0 : statSync(join(ROOT, 'boot', 'debian-installer/12/amd64/initrd.gz')).size;
const INSTALL_WAIT = 8 * 60_000;
let seq = 0;

async function withLab(tag: string, changes: Record<string, unknown>, fn: (lab: RunningLab) => Promise<void>): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), `3rc-lab-${tag}-`));
  const lab = await RunningLab.start({ prefix: `L${process.pid % 10000}${tag}${seq++}`, workDir, configChanges: changes, log: (l) => console.log(`# ${l}`) });
  try {
    await fn(lab);
  } finally {
    await lab.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

const ok = (e: StoreEvent) => e.kind === 'tftp.transfer' && e.data?.outcome === 'complete';
const tftpDone = (file: string) => (e: StoreEvent) => ok(e) && e.data?.file === file;
const httpFile = (file: string) => (e: StoreEvent) => e.kind === 'http.file' && e.reason === 'complete' && e.data?.file === `/boot/files/${file}` && e.data?.status === 200;
const ack = (e: StoreEvent) => e.kind === 'dhcp.request' && String(e.reason).startsWith('ack');
const preseed = (e: StoreEvent) => e.kind === 'http.kickstart' && e.data?.status === 200 && e.data?.profile === 'debian12';

/** Flips a host to install through the API (as an operator would) and returns its MAC path. */
async function install(lab: RunningLab, host: string): Promise<string> {
  const r = await lab.api('PUT', `/hosts/${host}/boot`, { mode: 'install', profile: 'debian12', reason: 'lab test' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return lab.host(host).mac.replace(/:/g, '-');
}

/** The installer's own DHCP exchange, its preseed fetch, and the kernel command line it got. */
async function installerPhases(lab: RunningLab, host: string, macPath: string, after: number, t0: number, phases: Record<string, number>): Promise<void> {
  const dhcp = await lab.waitEvent(host, (e) => ack(e) && e.id > after && e.data?.client === undefined, INSTALL_WAIT, "the installer's own DHCP");
  phases['installer DHCP ACK'] = (dhcp.at - t0) / 1000;
  const ks = await lab.waitEvent(host, (e) => preseed(e) && e.id > after, INSTALL_WAIT, 'preseed fetch');
  phases['preseed fetched'] = (ks.at - t0) / 1000;
  assert.equal(ks.data?.peer, lab.host(host).ip, 'the installer used the address 3rc gave it');
  const cmdline = await lab.waitSerial(host, /Command line: .*/, 10_000, 'kernel command line');
  assert.match(cmdline[0], new RegExp(`url=http://10\\.77\\.0\\.1/ks/${macPath}\\?token=[A-Za-z0-9_-]{16,}`), 'the preseed URL carries the per-install token');
  assert.match(cmdline[0], new RegExp(`hostname=${host} domain=lab\\.test`));
  // Then it resolves names through 3rc's DNS (the mirror named in the preseed, its own name).
  const dns = await lab.waitEvent(host, (e) => e.kind === 'dns.query' && e.id > ks.id, INSTALL_WAIT, 'a DNS query from the installer');
  phases[`DNS query (${String(dns.data?.name)})`] = (dns.at - t0) / 1000;
}

function report(name: string, phases: Record<string, number>): void {
  console.log(`# ${name} phase timings (s since power-on): ${Object.entries(phases).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
}

describe('lab: PXE boot with real firmware into the Debian installer', { skip }, () => {
  it('BIOS via pxelinux over TFTP and UEFI via OVMF and syslinux.efi, side by side', { timeout: 15 * 60_000 }, async () => {
    await withLab('p', { servers: { dhcp: { ipxeScript: false } } }, async (lab) => {
      const run = async (host: string, firmware: 'bios' | 'uefi') => {
        const macPath = await install(lab, host);
        const vm = lab.bootVm({ host, firmware });
        const t0 = vm.startedAt;
        const phases: Record<string, number> = {};
        const loader = firmware === 'bios' ? 'pxelinux.0' : 'syslinux.efi';
        const dhcp = await lab.waitEvent(host, (e) => ack(e) && e.data?.file === loader, INSTALL_WAIT, `DHCP ACK with boot file ${loader}`);
        assert.equal(dhcp.data?.arch, firmware === 'bios' ? 0 : 7);
        assert.equal(dhcp.data?.ip, lab.host(host).ip);
        phases['DHCP ACK'] = (dhcp.at - t0) / 1000;
        const files = firmware === 'bios' ? ['pxelinux.0', 'ldlinux.c32'] : ['syslinux.efi', 'ldlinux.e64'];
        for (const f of [...files, `pxelinux.cfg/01-${macPath}`, 'debian-installer/12/amd64/linux', 'debian-installer/12/amd64/initrd.gz']) {
          const e = await lab.waitEvent(host, tftpDone(f), INSTALL_WAIT, `TFTP ${f}`);
          phases[`tftp ${f.split('/').pop()}`] = (e.at + Number(e.data?.ms ?? 0) - t0) / 1000;
        }
        const initrd = lab.events.find((e) => e.host === host && tftpDone('debian-installer/12/amd64/initrd.gz')(e))!;
        assert.equal(initrd.data?.size, INITRD_SIZE);
        await installerPhases(lab, host, macPath, initrd.id, t0, phases);
        await lab.waitSerial(host, /Linux version \d/, 10_000, 'kernel banner');
        report(`${firmware.toUpperCase()} (${host})`, phases);
        await lab.powerOff(host);
      };
      await Promise.all([run('vm10', 'bios'), run('vm11', 'uefi')]);
    });
  });

  it('iPXE fast path: the script, kernel and initrd over HTTP, nothing over TFTP', { timeout: 12 * 60_000 }, async () => {
    await withLab('i', {}, async (lab) => {
      const host = 'vm10';
      const macPath = await install(lab, host);
      const vm = lab.bootVm({ host, firmware: 'bios' });
      const t0 = vm.startedAt;
      const phases: Record<string, number> = {};
      const dhcp = await lab.waitEvent(host, (e) => ack(e) && e.data?.client === 'ipxe', INSTALL_WAIT, 'DHCP ACK for iPXE');
      assert.equal(dhcp.data?.file, `http://10.77.0.1/boot/ipxe/${macPath}`);
      phases['DHCP ACK'] = (dhcp.at - t0) / 1000;
      const script = await lab.waitEvent(host, (e) => e.kind === 'http.ipxe' && e.data?.status === 200, INSTALL_WAIT, 'iPXE script');
      assert.equal(script.data?.mode, 'install');
      phases['iPXE script'] = (script.at - t0) / 1000;
      for (const f of ['debian-installer/12/amd64/linux', 'debian-installer/12/amd64/initrd.gz']) {
        const e = await lab.waitEvent(host, httpFile(f), INSTALL_WAIT, `HTTP ${f}`);
        phases[`http ${f.split('/').pop()}`] = (e.at + Number(e.data?.ms ?? 0) - t0) / 1000;
      }
      const initrd = lab.events.find((e) => e.host === host && httpFile('debian-installer/12/amd64/initrd.gz')(e))!;
      assert.equal(initrd.data?.bytes, INITRD_SIZE, 'the whole initrd was sent');
      await installerPhases(lab, host, macPath, initrd.id, t0, phases);
      assert.equal(lab.events.filter((e) => e.kind === 'tftp.transfer').length, 0, 'nothing went over TFTP');
      report(`iPXE fast path (${host})`, phases);
    });
  });
});
