/**
 * ARM64 network boot with real firmware and the real Debian arm64 installer, in a lab of
 * namespaces (qemu-system-aarch64 -M virt under TCG, AAVMF from qemu-efi-aarch64; src/lab/qemu.ts
 * firmware kinds arm64 and arm64-http). Two VMs side by side on one lab, both installing the
 * lab's debian12-arm64 profile (chain: grub):
 * - arm64: AAVMF's PXE: DHCP with architecture 11 -> grubaa64.efi over TFTP (the arm64
 *   installer's signed netboot GRUB, prefix /debian-installer/arm64/grub) -> its embedded config
 *   tests `$prefix/arm64-efi/grub.cfg` and sources it, 3rc's generated grub.cfg chains to
 *   `grub.cfg-<mac:colons>` by net_default_mac -> the host's install entry -> kernel and initrd
 *   over TFTP;
 * - arm64-http: AAVMF's UEFI HTTP Boot: DHCP as `HTTPClient:Arch:00019` -> option 60 HTTPClient
 *   and the http:// URL of grubaa64.efi -> grubaa64.efi over HTTP -> GRUB starts. It goes no
 *   further: Debian 12's GRUB 2.06 takes its network configuration from the PXE base code of the
 *   device it was loaded from, and HTTP Boot leaves none there (edk2's HttpBootDxe does its own
 *   DHCP): GRUB's $prefix, $root and net_default_ip stay empty and it stops at its prompt without
 *   a single request (seen in the lab: no HTTP request after its image, no TFTP). Debian 12 has
 *   no other arm64 loader (no arm64 iPXE), so this variant ends at GRUB.
 * The PXE one ends when the arm64 installer, having configured its network from 3rc's DHCP,
 * fetched its preseed with its per-install token. Every phase's time and every name GRUB asked
 * are printed.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RunningLab } from '../../src/lab/lab.js';
import { AAVMF_CODE, AAVMF_VARS, type Firmware } from '../../src/lab/qemu.js';
import { labBudget, labUnavailable, labWorkDir } from '../../src/lab/topology.js';
import { ROOT } from '../lib/serve.js';
import { ack, bootFilesMissing, endedAt, httpDone, report, tftpDone } from './boot-trace.js';

function missing(): string | undefined {
  const why = labUnavailable();
  if (why) return why;
  if (!existsSync('/usr/bin/qemu-system-aarch64')) return 'needs qemu-system-aarch64 (apt-get install qemu-system-arm)';
  if (!existsSync(AAVMF_CODE) || !existsSync(AAVMF_VARS)) return `needs AAVMF, ${AAVMF_CODE} (apt-get install qemu-efi-aarch64)`;
  return bootFilesMissing();
}

const skip = missing();
if (skip) console.log(`# SKIP lab ARM64 tests: ${skip}`);

const PROFILE = 'debian12-arm64';
const DI = 'debian-installer/12/arm64';
const size = (f: string) => (skip ? 0 : statSync(join(ROOT, 'boot', f)).size);
/** Budget: the measured time with a margin (a hang fails in minutes). */
const ARM64_MS = labBudget(5 * 60_000);



describe('lab: ARM64 (AAVMF) network boot into the Debian arm64 installer', { skip }, () => {
  it('PXE: grubaa64.efi, its grub.cfg per MAC, kernel and initrd over TFTP; HTTP Boot: grubaa64.efi over HTTP', { timeout: ARM64_MS }, async () => {
    const work = labWorkDir('lab-arm64');
    const lab = await RunningLab.start({ prefix: `L${process.pid % 10000}a`, workDir: work.dir, log: (l) => console.log(`# ${l}`) });
    try {
      const start = async (host: string, firmware: Firmware) => {
        const r = await lab.api('PUT', `/hosts/${host}/boot`, { mode: 'install', profile: PROFILE, reason: 'lab test' });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        return lab.bootVm({ host, firmware, memoryMb: 1024 }).startedAt;
      };

      /** The installer's own DHCP, its preseed fetch with its token, its kernel command line. */
      const installer = async (host: string, after: number, t0: number, phases: Record<string, number>) => {
        const { ip, mac } = lab.host(host);
        const dhcp = await lab.waitEvent(host, (e) => ack(e) && e.id > after && e.data?.client === undefined, ARM64_MS, "the installer's own DHCP");
        phases['installer DHCP ACK'] = (dhcp.at - t0) / 1000;
        const ks = await lab.waitEvent(host, (e) => e.kind === 'http.kickstart' && e.data?.status === 200 && e.data?.profile === PROFILE && e.id > after, ARM64_MS, 'preseed fetch');
        phases['preseed fetched'] = (ks.at - t0) / 1000;
        assert.equal(ks.data?.peer, ip, 'the installer used the address 3rc gave it');
        const cmdline = await lab.waitSerial(host, /Kernel command line: .*/, 10_000, 'kernel command line');
        assert.match(cmdline[0], new RegExp(`url=http://10\\.77\\.0\\.1/ks/${mac.replace(/:/g, '-')}\\?token=[A-Za-z0-9_-]{16,}`), 'the preseed URL carries the per-install token');
        assert.match(cmdline[0], new RegExp(`hostname=${host} domain=lab\\.test`));
        assert.match(cmdline[0], /console=ttyAMA0/);
        await lab.waitSerial(host, /Booting Linux on physical CPU/, 10_000, 'arm64 kernel banner');
      };

      const pxe = async (host: string) => {
        const { ip, mac } = lab.host(host);
        const t0 = await start(host, 'arm64');
        const phases: Record<string, number> = {};
        const dhcp = await lab.waitEvent(host, (e) => ack(e) && e.data?.file === 'grubaa64.efi', ARM64_MS, 'DHCP ACK with boot file grubaa64.efi');
        assert.equal(dhcp.data?.arch, 11);
        assert.equal(dhcp.data?.ip, ip);
        phases['DHCP ACK'] = (dhcp.at - t0) / 1000;
        const loader = await lab.waitEvent(host, tftpDone('grubaa64.efi'), ARM64_MS, 'TFTP grubaa64.efi');
        assert.equal(loader.data?.size, size('grubaa64.efi'));
        phases['tftp grubaa64.efi'] = endedAt(loader, t0);
        const kernel = await lab.waitEvent(host, tftpDone(`${DI}/linux`), ARM64_MS, 'TFTP arm64 kernel');
        phases['tftp linux'] = endedAt(kernel, t0);
        // What GRUB asked between its own image and the kernel, in order (each request is a trace record).
        const asked = lab.events.filter((e) => e.host === host && e.kind === 'tftp.transfer' && e.id > loader.id && e.id < kernel.id).map((e) => `${String(e.data?.file)} ${String(e.data?.outcome)}`);
        console.log(`# GRUB (PXE, ${host}) asked over TFTP: ${asked.join(', ')}`);
        const cfg = `debian-installer/arm64/grub/grub.cfg-${mac}`;
        assert.ok(asked.includes(`${cfg} complete`), `GRUB read its per-MAC config ${cfg}: ${asked.join(', ')}`);
        const initrd = await lab.waitEvent(host, tftpDone(`${DI}/initrd.gz`), ARM64_MS, 'TFTP arm64 initrd');
        assert.equal(initrd.data?.size, size(`${DI}/initrd.gz`));
        phases['tftp initrd.gz'] = endedAt(initrd, t0);
        await installer(host, initrd.id, t0, phases);
        report(`ARM64 PXE (${host})`, phases);
        await lab.powerOff(host);
      };

      const http = async (host: string) => {
        const { ip } = lab.host(host);
        const t0 = await start(host, 'arm64-http');
        const phases: Record<string, number> = {};
        const fw = await lab.waitEvent(host, (e) => ack(e) && e.data?.client === 'uefi-http', ARM64_MS, 'DHCP ACK to the arm64 HTTP Boot firmware');
        assert.equal(fw.data?.arch, 19);
        assert.equal(fw.data?.file, 'http://10.77.0.1/boot/files/grubaa64.efi');
        assert.equal(fw.data?.ip, ip);
        phases['firmware DHCP ACK'] = (fw.at - t0) / 1000;
        const loader = await lab.waitEvent(host, httpDone('grubaa64.efi'), ARM64_MS, 'grubaa64.efi over HTTP');
        assert.equal(loader.data?.bytes, size('grubaa64.efi'));
        phases['http grubaa64.efi'] = endedAt(loader, t0);
        // GRUB starts, but Debian 12's GRUB 2.06 finds no network configuration on a device it
        // was HTTP-booted from (no PXE base code there): $prefix, $root and net_default_ip stay
        // empty and it stops at its prompt without asking 3rc anything (see the header).
        await lab.waitSerial(host, /Welcome to GRUB!/, ARM64_MS, 'GRUB started by AAVMF over HTTP');
        phases['GRUB started'] = (Date.now() - t0) / 1000;
        assert.deepEqual(lab.events.filter((e) => e.host === host && e.kind.startsWith('tftp.')).map((e) => e.data?.file), [], 'no TFTP transfer for this host');
        report(`ARM64 HTTP Boot (${host})`, phases);
        await lab.powerOff(host);
      };

      await Promise.all([pxe('vm10'), http('vm11')]);
    } finally {
      await lab.stop();
      work.remove();
    }
  });
});
