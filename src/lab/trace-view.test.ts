import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeEvent, formatBytes, formatEvent } from './trace-view.js';
import { qemuArgs } from './qemu.js';

describe('lab trace lines', () => {
  it('DHCP: the answer, address, boot file and firmware', () => {
    assert.deepEqual(describeEvent({ kind: 'dhcp.request', reason: 'ack-selecting', data: { ip: '10.77.0.10', file: 'pxelinux.0', arch: 0 } }), { proto: 'dhcp', text: 'ACK 10.77.0.10, boot pxelinux.0 (BIOS)' });
    assert.equal(describeEvent({ kind: 'dhcp.discover', reason: 'offer-reservation', data: { ip: '10.77.0.11', file: 'syslinux.efi', arch: 7 } }).text, 'OFFER 10.77.0.11, boot syslinux.efi (UEFI x64)');
    assert.equal(describeEvent({ kind: 'dhcp.discover', reason: 'offer-reservation', data: { ip: '10.77.0.10', file: 'http://x/boot/ipxe/m', client: 'ipxe' } }).text, 'OFFER 10.77.0.10, boot http://x/boot/ipxe/m (iPXE)');
    assert.equal(describeEvent({ kind: 'dhcp.request', reason: 'nak-wrong-address', data: {} }).text, 'REQUEST not answered: nak-wrong-address');
    assert.equal(describeEvent({ kind: 'dhcp.discover', reason: 'proxy-offer', data: { file: 'pxelinux.0', arch: 0 } }).text, 'proxy OFFER, boot pxelinux.0 (BIOS)');
  });

  it('TFTP and HTTP: file, size, time and rate; a size probe is named as such', () => {
    assert.equal(describeEvent({ kind: 'tftp.transfer', reason: 'complete', data: { file: 'pxelinux.0', size: 42430, ms: 200, outcome: 'complete' } }).text, 'pxelinux.0  42.4 kB in 0.20 s (212.2 kB/s)');
    assert.equal(describeEvent({ kind: 'tftp.transfer', reason: 'client sent error 8: User aborted', data: { file: 'syslinux.efi', size: 171456, outcome: 'option-refused' } }).text, 'syslinux.efi  size asked (171.5 kB), transfer aborted by the client');
    assert.equal(describeEvent({ kind: 'http.file', reason: 'complete', data: { file: '/boot/files/a', bytes: 8_000_000, ms: 400, status: 200 } }).text, '/boot/files/a  8.0 MB in 0.40 s (20.0 MB/s)');
    assert.equal(describeEvent({ kind: 'http.file', reason: 'aborted', data: { file: '/boot/files/a', bytes: 10, ms: 0, status: 200 } }).text, '/boot/files/a  10 B in 0.00 s (aborted)');
    assert.equal(describeEvent({ kind: 'http.kickstart', reason: 'bad-token', data: { status: 403 } }).text, 'kickstart refused 403: bad-token');
  });

  it('DNS, callbacks and boot entries', () => {
    assert.equal(describeEvent({ kind: 'dns.query', reason: 'NOERROR', data: { name: 'vm14.lab.test', type: 13 } }).text, 'HINFO vm14.lab.test -> NOERROR');
    assert.equal(describeEvent({ kind: 'http.install-done', reason: null, data: { status: 200 } }).text, 'callback install-done');
    assert.equal(describeEvent({ kind: 'boot.set', reason: 'install-done', data: { mode: 'local' } }).text, 'entry -> local, by install-done');
    assert.equal(describeEvent({ kind: 'ha.something', reason: 'x', data: null }).text, 'something x');
  });

  it('a line: host, seconds since the start, protocol', () => {
    assert.equal(formatEvent({ at: 12_345, kind: 'http.ipxe', reason: null, data: { mode: 'install' }, host: 'vm10', mac: null }, 0), 'vm10   +12.3s  http    iPXE script (install)');
    assert.equal(formatBytes(999), '999 B');
    assert.equal(formatBytes(1_500_000_000), '1.50 GB');
  });
});

describe('qemu command lines', () => {
  const base = { name: 'vm10', mac: '52:54:00:77:00:10', tap: 'tap0', memoryMb: 1024, serialLog: '/tmp/s.log', boot: 'network' as const };
  it('BIOS: TCG, the modern virtio NIC (its iPXE ROM), network before disk', () => {
    const a = qemuArgs({ ...base, firmware: 'bios', disk: '/tmp/d.qcow2' }).join(' ');
    assert.match(a, /-accel tcg/);
    assert.match(a, /-device virtio-net-pci,disable-legacy=on,netdev=n0,mac=52:54:00:77:00:10,bootindex=1/);
    assert.match(a, /virtio-blk-pci,drive=d0,bootindex=2/);
    assert.match(a, /format=qcow2/);
    assert.doesNotMatch(a, /pflash|romfile/);
  });
  it('UEFI: OVMF code read-only, its own vars, no option ROM (the firmware does PXE itself)', () => {
    const a = qemuArgs({ ...base, firmware: 'uefi', varsFile: '/tmp/v.fd' }).join(' ');
    assert.match(a, /if=pflash,format=raw,readonly=on,file=\/usr\/share\/OVMF\/OVMF_CODE_4M\.fd/);
    assert.match(a, /if=pflash,format=raw,file=\/tmp\/v\.fd/);
    assert.match(a, /romfile=(,|$| )/);
    assert.match(a, /-machine q35/);
    assert.throws(() => qemuArgs({ ...base, firmware: 'uefi' }), /varsFile/);
    assert.doesNotMatch(a, /-fw_cfg/, 'plain uefi keeps its PXE boot options');
  });
  it('UEFI HTTP Boot: the same OVMF, with the fw_cfg knobs that leave it no PXE boot option', () => {
    const a = qemuArgs({ ...base, firmware: 'uefi-http', varsFile: '/tmp/v.fd' });
    const s = a.join(' ');
    assert.match(s, /-machine q35/);
    assert.match(s, /if=pflash,format=raw,readonly=on,file=\/usr\/share\/OVMF\/OVMF_CODE_4M\.fd -drive if=pflash,format=raw,file=\/tmp\/v\.fd/);
    assert.match(s, /virtio-net-pci,disable-legacy=on,netdev=n0,mac=52:54:00:77:00:10,bootindex=1,romfile=( |$)/);
    const knobs = a.flatMap((x, i) => (x === '-fw_cfg' ? [a[i + 1]] : []));
    assert.deepEqual(knobs, ['name=opt/org.tianocore/IPv4PXESupport,string=n', 'name=opt/org.tianocore/IPv6PXESupport,string=n']);
    assert.throws(() => qemuArgs({ ...base, firmware: 'uefi-http' }), /uefi-http needs a varsFile/);
  });
  it('disk first, direct kernel boot and no-reboot when asked', () => {
    const a = qemuArgs({ ...base, firmware: 'bios', boot: 'disk', disk: '/tmp/d.raw', noReboot: true, kernel: { kernel: 'k', initrd: 'i', append: 'console=ttyS0' } });
    assert.ok(a.includes('-no-reboot'));
    assert.equal(a[a.indexOf('-append') + 1], 'console=ttyS0');
    assert.match(a.join(' '), /format=raw.*bootindex=1/);
  });
  it('monitor: none by default, a unix socket (server, nowait) when asked', () => {
    const none = qemuArgs({ ...base, firmware: 'bios' });
    assert.equal(none[none.indexOf('-monitor') + 1], 'none');
    const a = qemuArgs({ ...base, firmware: 'bios', monitorSocket: '/tmp/vm10.monitor.sock' });
    assert.equal(a[a.indexOf('-monitor') + 1], 'unix:/tmp/vm10.monitor.sock,server,nowait');
    assert.equal(a.filter((x) => x === '-monitor').length, 1);
  });
});
