/**
 * Real network boot with real firmware and the real Debian installer, in a lab of namespaces:
 * - BIOS: SeaBIOS + qemu's iPXE ROM treated as plain PXE firmware (servers.dhcp.ipxeScript false):
 *   DHCP -> pxelinux.0, ldlinux.c32, pxelinux.cfg/01-<mac> over TFTP -> kernel, initrd over TFTP;
 * - UEFI: OVMF's own network stack (no option ROM): DHCP with architecture 7 -> syslinux.efi,
 *   ldlinux.e64, its config, kernel and initrd over TFTP;
 * - UEFI HTTP Boot: OVMF left only its HTTP boot options (qemu.ts, firmware uefi-http): DHCP as
 *   `HTTPClient:Arch:00016` -> option 60 HTTPClient and the http:// URL of ipxe.efi -> ipxe.efi
 *   over HTTP -> iPXE's own DHCP -> its script, kernel and initrd over HTTP; no TFTP at all;
 * Each ends when the Debian installer, having configured its network from 3rc's DHCP, fetched its
 * preseed with its per-install token.
 * - ProxyDHCP (servers.dhcp.mode: proxy): the iPXE ROM as plain PXE firmware gets its address from
 *   a real DHCP server beside 3rc (dnsmasq, no PXE options) and its boot file from 3rc's ProxyDHCP
 *   offer, and fetches pxelinux.0 over TFTP from 3rc.
 * The iPXE fast path (script, kernel and initrd over HTTP) is the path of every install of the HA
 * lab (ha-crash.test.ts, checked by HaLab.verifyInstall). Asserted from 3rc's boot trace, the
 * serial consoles and dnsmasq's log; every phase's time is printed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RunningLab } from '../../src/lab/lab.js';
import { labBudget, labUnavailable, labWorkDir } from '../../src/lab/topology.js';
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
/** Budgets: each test's measured time with a margin (a hang fails in minutes). */
const FIRMWARE_MS = labBudget(5 * 60_000);
const PROXY_MS = labBudget(60_000);
/** UEFI HTTP Boot: the preseed fetch at 92 s, the whole test 135 s under TCG (measured), with a margin. */
const HTTP_BOOT_MS = labBudget(4 * 60_000);
const INSTALL_WAIT = FIRMWARE_MS;
let seq = 0;

async function withLab(tag: string, changes: Record<string, unknown>, fn: (lab: RunningLab) => Promise<void>): Promise<void> {
  const work = labWorkDir(`lab-${tag}`);
  const workDir = work.dir;
  const lab = await RunningLab.start({ prefix: `L${process.pid % 10000}${tag}${seq++}`, workDir, configChanges: changes, log: (l) => console.log(`# ${l}`) });
  try {
    await fn(lab);
  } finally {
    await lab.stop();
    work.remove();
  }
}

const ok = (e: StoreEvent) => e.kind === 'tftp.transfer' && e.data?.outcome === 'complete';
const tftpDone = (file: string) => (e: StoreEvent) => ok(e) && e.data?.file === file;
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
  it('BIOS via pxelinux over TFTP and UEFI via OVMF and syslinux.efi, side by side', { timeout: FIRMWARE_MS }, async () => {
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

  it('UEFI HTTP Boot: OVMF fetches ipxe.efi over HTTP, iPXE its script, kernel and initrd, no TFTP at all', { timeout: HTTP_BOOT_MS }, async () => {
    await withLab('h', {}, async (lab) => {
      const host = 'vm10';
      const { ip } = lab.host(host);
      const macPath = await install(lab, host);
      const vm = lab.bootVm({ host, firmware: 'uefi-http' });
      const t0 = vm.startedAt;
      const phases: Record<string, number> = {};
      const loaderUrl = 'http://10.77.0.1/boot/files/ipxe.efi';
      // OVMF's HTTP Boot DHCP: vendor class HTTPClient:Arch:00016, answered with the loader's URL.
      const offer = await lab.waitEvent(host, (e) => e.kind === 'dhcp.discover' && String(e.reason).startsWith('offer') && e.data?.client === 'uefi-http', HTTP_BOOT_MS, 'DHCP OFFER to the UEFI HTTP Boot firmware');
      phases['firmware DHCP OFFER'] = (offer.at - t0) / 1000;
      const fw = await lab.waitEvent(host, (e) => ack(e) && e.data?.client === 'uefi-http', HTTP_BOOT_MS, 'DHCP ACK to the UEFI HTTP Boot firmware');
      assert.equal(fw.data?.arch, 16);
      assert.equal(fw.data?.file, loaderUrl);
      assert.equal(fw.data?.ip, ip);
      phases['firmware DHCP ACK'] = (fw.at - t0) / 1000;
      const fetched = (file: string) => (e: StoreEvent) => e.kind === 'http.file' && e.reason === 'complete' && e.data?.status === 200 && e.data?.file === `/boot/files/${file}`;
      const loader = await lab.waitEvent(host, fetched('ipxe.efi'), HTTP_BOOT_MS, 'ipxe.efi over HTTP');
      assert.equal(loader.data?.bytes, statSync(join(ROOT, 'boot', 'ipxe.efi')).size);
      phases['http ipxe.efi'] = (loader.at + Number(loader.data?.ms ?? 0) - t0) / 1000;
      // ipxe.efi asks again, as iPXE, and gets its per-MAC script.
      const ipxe = await lab.waitEvent(host, (e) => ack(e) && e.data?.client === 'ipxe' && e.id > loader.id, HTTP_BOOT_MS, "iPXE's DHCP ACK");
      assert.equal(ipxe.data?.file, `http://10.77.0.1/boot/ipxe/${macPath}`);
      phases['iPXE DHCP ACK'] = (ipxe.at - t0) / 1000;
      const script = await lab.waitEvent(host, (e) => e.kind === 'http.ipxe' && e.data?.status === 200 && e.data?.mode === 'install', HTTP_BOOT_MS, 'iPXE script');
      phases['iPXE script'] = (script.at - t0) / 1000;
      const kernel = await lab.waitEvent(host, fetched('debian-installer/12/amd64/linux'), HTTP_BOOT_MS, 'kernel over HTTP');
      phases['http linux'] = (kernel.at + Number(kernel.data?.ms ?? 0) - t0) / 1000;
      const initrd = await lab.waitEvent(host, fetched('debian-installer/12/amd64/initrd.gz'), HTTP_BOOT_MS, 'initrd over HTTP');
      assert.equal(initrd.data?.bytes, INITRD_SIZE);
      phases['http initrd.gz'] = (initrd.at + Number(initrd.data?.ms ?? 0) - t0) / 1000;
      await installerPhases(lab, host, macPath, initrd.id, t0, phases);
      // Nothing of this chain came over TFTP: no transfer in the trace, no TFTP request in 3rc's log.
      assert.deepEqual(lab.events.filter((e) => e.host === host && e.kind.startsWith('tftp.')).map((e) => e.data?.file), [], 'no TFTP transfer for this host');
      assert.deepEqual(lab.serverLines.filter((l) => l.includes('"msg":"tftp') && l.includes(`"peer":"${ip}:`)), [], "no TFTP request from the VM in 3rc's log");
      report(`UEFI HTTP Boot (${host})`, phases);
      await lab.powerOff(host);
    });
  });

  it('ProxyDHCP: the iPXE ROM gets its address from dnsmasq and its boot file from 3rc, then fetches the loader over TFTP', { timeout: PROXY_MS }, async () => {
    await withLab('x', { servers: { dhcp: { mode: 'proxy', ipxeScript: false } } }, async (lab) => {
      // The site's DHCP server: dnsmasq on its own host of the lab switch, addresses only (no PXE
      // options, no boot file, no DNS). It reserves vm10's inventory address for its MAC, as a
      // site's server would, so that 3rc's TFTP trace names the host.
      const host = 'vm10';
      const { mac, ip } = lab.host(host);
      const ns = lab.net.addHost('dhcp', '10.77.0.250/24');
      const dnsmasq = lab.net.spawn(ns, 'dnsmasq', ['--keep-in-foreground', '--log-facility=-', '--log-dhcp', '--port=0', '--bind-interfaces', '--interface=eth0',
        '--dhcp-range=10.77.0.100,10.77.0.149,255.255.255.0,10m', `--dhcp-host=${mac},${ip}`, `--dhcp-leasefile=${join(lab.workDir, 'dnsmasq.leases')}`,
        `--pid-file=${join(lab.workDir, 'dnsmasq.pid')}`, '--dhcp-authoritative'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let dnsmasqLog = '';
      for (const s of [dnsmasq.stdout!, dnsmasq.stderr!]) s.on('data', (d: Buffer) => (dnsmasqLog = (dnsmasqLog + d.toString()).slice(-20_000)));
      await install(lab, host);
      const vm = lab.bootVm({ host, firmware: 'bios' });
      const t0 = vm.startedAt;
      const phases: Record<string, number> = {};
      const offer = await lab.waitEvent(host, (e) => e.kind === 'dhcp.discover' && e.reason === 'proxy-offer', PROXY_MS, 'ProxyDHCP offer');
      assert.equal(offer.data?.file, 'pxelinux.0');
      phases['ProxyDHCP offer'] = (offer.at - t0) / 1000;
      const loader = await lab.waitEvent(host, tftpDone('pxelinux.0'), PROXY_MS, 'TFTP pxelinux.0');
      phases['tftp pxelinux.0'] = (loader.at + Number(loader.data?.ms ?? 0) - t0) / 1000;
      // The address came from dnsmasq (its ACK in its log), the loader from 3rc's TFTP.
      assert.equal(String(loader.data?.peer ?? '').split(':')[0], ip);
      assert.match(dnsmasqLog, new RegExp(`DHCPACK\\(eth0\\) ${ip.replace(/\./g, '\\.')} ${mac}`, 'i'), dnsmasqLog);
      // 3rc gave no address: nothing it sent was an ACK of its own lease.
      assert.equal(lab.events.filter((e) => e.host === host && e.kind.startsWith('dhcp.') && String(e.reason).startsWith('ack')).length, 0, '3rc gave out no address');
      report(`ProxyDHCP (${host}, address ${ip} from dnsmasq)`, phases);
      await lab.powerOff(host);
    });
  });
});
