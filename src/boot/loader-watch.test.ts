import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TraceEvent } from '../events/kinds.js';
import { LoaderWatch, loaderName } from './loader-watch.js';

const MAC = '52:54:00:77:00:11';
const QUIET = 60_000;
const host = { mac: MAC, host: 'vm11' };
const fwAck = (at: number, file: string, extra: Record<string, unknown> = {}): TraceEvent => ({ at, kind: 'dhcp.request', ...host, reason: 'ack-selecting', data: { pxe: true, file, arch: 7, ...extra } });
const tftp = (at: number, file: string, outcome = 'complete'): TraceEvent => ({ at, kind: 'tftp.transfer', ...host, reason: outcome, data: { file, mac: MAC, peer: '10.77.0.11:1024', outcome, ms: 500 } });
const httpFile = (at: number, file: string, reason = 'complete'): TraceEvent => ({ at, kind: 'http.file', ...host, reason, data: { file, status: 200, bytes: 1, ms: 200 } });

function watch(...events: TraceEvent[]): LoaderWatch {
  const w = new LoaderWatch(QUIET);
  for (const e of events) w.observe(e);
  return w;
}

test('a loader fetched and nothing else asked for: stuck once the quiet time has passed, not before', () => {
  const w = watch(fwAck(1000, 'shimx64.efi'), tftp(2000, 'shimx64.efi'));
  // The loader's fetch ended at 2500 (its start plus its ms).
  assert.equal(w.of(MAC, 2500 + QUIET - 1), null);
  const s = w.of(MAC, 2500 + QUIET)!;
  assert.deepEqual([s.host, s.loader, s.via, s.since, s.fetches], ['vm11', 'shimx64.efi', 'tftp', 2500, 1]);
  assert.match(s.detail, /fetched its loader shimx64\.efi over TFTP once, asked for nothing else in 60 s/);
  assert.deepEqual(w.stuck(2500 + QUIET).map((x) => x.host), ['vm11']);
});

test("the firmware's retries (its DHCP answered with the same loader, the loader again) are no progress", () => {
  const w = watch(fwAck(1000, 'ipxe.efi'), tftp(2000, 'ipxe.efi'), fwAck(20_000, 'ipxe.efi'), tftp(21_000, 'ipxe.efi'));
  const s = w.of(MAC, 2500 + QUIET)!;
  assert.deepEqual([s.since, s.fetches, s.lastSeen], [2500, 2, 21_500]);
  assert.match(s.detail, /2 times/);
});

test('anything else the host asks for is progress: the next file (even one we do not have), a script, its kickstart, DNS, the installer DHCP', () => {
  const after: TraceEvent[] = [
    tftp(3000, 'ldlinux.c32'),
    tftp(3000, 'grub/x86_64-efi/command.lst', 'not-found'),
    { at: 3000, kind: 'http.ipxe', ...host, data: { peer: '10.77.0.11', status: 200 } },
    { at: 3000, kind: 'http.kickstart', ...host, data: { peer: '10.77.0.11', status: 200 } },
    { at: 3000, kind: 'dns.query', ...host, data: { peer: '10.77.0.11', name: 'deb.debian.org', type: 1 } },
    { at: 3000, kind: 'dhcp.request', ...host, reason: 'ack-selecting', data: { ip: '10.77.0.11' } },
    { at: 3000, kind: 'dhcp.request', ...host, reason: 'ack-selecting', data: { pxe: true, client: 'ipxe', file: 'http://10.77.0.1/boot/ipxe/52-54-00-77-00-11' } },
    { at: 3000, kind: 'boot.set', ...host, data: { mode: 'install', profile: 'debian12', previous: 'local', result: null } },
  ];
  for (const e of after) {
    const w = watch(fwAck(1000, 'syslinux.efi'), tftp(2000, 'syslinux.efi'), e);
    assert.equal(w.of(MAC, 10 * QUIET), null, `${e.kind} ${e.reason ?? ''}`);
  }
});

test('only a whole fetch counts (a tsize probe or an aborted fetch is not the loader run)', () => {
  const w = watch(fwAck(1000, 'pxelinux.0'), tftp(2000, 'pxelinux.0', 'aborted'));
  assert.equal(w.of(MAC, 10 * QUIET), null);
  w.observe(tftp(5000, 'pxelinux.0'));
  assert.equal(w.of(MAC, 5500 + QUIET)?.fetches, 1);
});

test('UEFI HTTP Boot: the loader from a URL, fetched over HTTP; the firmware\'s next boot option (another loader) is the same stall', () => {
  const w = watch(fwAck(1000, 'http://10.77.0.1/boot/files/ipxe.efi', { client: 'uefi-http', arch: 16 }), httpFile(2000, '/boot/files/ipxe.efi'));
  const s = w.of(MAC, 2200 + QUIET)!;
  assert.deepEqual([s.loader, s.via, s.since], ['ipxe.efi', 'http', 2200]);
  // OVMF's next boot option asks again (here PXE, told shimx64.efi) and fetches it: still stuck, since the first fetch.
  w.observe(fwAck(90_000, 'shimx64.efi'));
  w.observe(tftp(91_000, 'shimx64.efi'));
  const again = w.of(MAC, 100_000)!;
  assert.deepEqual([again.loader, again.via, again.since, again.fetches], ['shimx64.efi', 'tftp', 2200, 2]);
  assert.match(again.detail, /fetched its loader shimx64\.efi over TFTP \(before it: ipxe\.efi over HTTP\) 2 times/);
  // A loader told but never fetched starts nothing.
  const fresh = watch(fwAck(1000, 'shimx64.efi'), fwAck(2000, 'ipxe.efi'));
  assert.equal(fresh.of(MAC, 10 * QUIET), null);
  assert.equal(loaderName('http://10.77.0.1:8080/boot/files/grub/grubaa64.efi'), 'grub/grubaa64.efi');
  assert.equal(loaderName('pxelinux.0'), 'pxelinux.0');
});

test('events of no inventory host are not kept (a random-MAC flood grows nothing); unanswered DHCP is nothing', () => {
  const w = new LoaderWatch(QUIET);
  for (let i = 0; i < 1000; i++) w.observe({ at: 0, kind: 'dhcp.request', mac: `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, reason: 'ack-selecting', data: { pxe: true, file: 'x.efi' } });
  assert.deepEqual(w.stuck(10 * QUIET), []);
  w.observe({ at: 0, kind: 'dhcp.discover', ...host, reason: 'no-free-address', data: { pxe: true, file: 'x.efi' } });
  w.observe(tftp(10, 'x.efi'));
  assert.deepEqual(w.stuck(10 * QUIET), []);
});

test("a fetch from another address than the host's own neither clears nor makes its verdict (anyone can ask for its per-MAC config)", () => {
  const ipOf = (h: string) => (h === 'vm11' ? '10.77.0.11' : undefined);
  const from = (e: TraceEvent, peer: string): TraceEvent => ({ ...e, data: { ...e.data, peer } }) as TraceEvent;
  const w = new LoaderWatch(QUIET, ipOf);
  w.observe(fwAck(1000, 'pxelinux.0'));
  // A stranger's fetch of the loader is not the host's: no stall starts.
  w.observe(from(tftp(2000, 'pxelinux.0'), '10.77.0.66:1024'));
  assert.equal(w.of(MAC, 10 * QUIET), null);
  w.observe(tftp(3000, 'pxelinux.0'));
  assert.equal(w.of(MAC, 3500 + QUIET)?.fetches, 1);
  // A stranger asking for the host's next file (its pxelinux.cfg, over TFTP or HTTP) is no progress.
  w.observe(from(tftp(4000, 'pxelinux.cfg/01-52-54-00-77-00-11'), '10.77.0.66:1024'));
  w.observe(from(httpFile(4000, '/boot/files/pxelinux.cfg/01-52-54-00-77-00-11'), '[fd77::66]:40000'));
  assert.equal(w.of(MAC, 3500 + QUIET)?.fetches, 1);
  // The host's own fetch of it is.
  w.observe(from(tftp(5000, 'pxelinux.cfg/01-52-54-00-77-00-11'), '10.77.0.11:1025'));
  assert.equal(w.of(MAC, 10 * QUIET), null);
});
