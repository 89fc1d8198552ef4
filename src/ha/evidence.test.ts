import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BOOT_CONFIRM_MS, bootEvidence, evidenceTrace, PxeEvidence, type BootEvidenceEvent } from './evidence.js';
import { isBlackout, type Snapshot } from './monitor.js';

describe('PXE-loop evidence', () => {
  it('needs `threshold` local PXE boots within the window', () => {
    const e = new PxeEvidence({ threshold: 3, window: 60_000 });
    e.record('vm10', 0, 'local');
    e.record('vm10', 20_000, 'local');
    assert.equal(e.looping('vm10', 20_000), false);
    e.record('vm10', 40_000, 'local');
    assert.equal(e.looping('vm10', 40_000), true);
    // Old boots age out.
    assert.equal(e.looping('vm10', 70_000), false);
    assert.equal(e.looping('vm11', 40_000), false);
  });
  it('boots followed by the VM answering are no evidence: only those since it was last seen up count', () => {
    const e = new PxeEvidence({ threshold: 3, window: 5 * 60_000 });
    // Three healthy reboots in five minutes (network first, then the disk): not a loop.
    for (const t of [0, 60_000, 120_000]) {
      e.record('vm14', t, 'local');
      e.seenUp('vm14', t + 50_000);
    }
    assert.equal(e.looping('vm14', 180_000), false);
    // Then a disk that no longer boots: three boots and never up in between.
    for (const t of [200_000, 220_000, 240_000]) e.record('vm14', t, 'local');
    e.seenUp('vm14', 190_000); // a probe result older than those boots changes nothing
    assert.equal(e.looping('vm14', 240_000), true);
  });
  it('an install PXE boot is not evidence and resets the count; clear forgets', () => {
    const e = new PxeEvidence({ threshold: 2, window: 60_000 });
    e.record('vm10', 0, 'local');
    e.record('vm10', 1, 'install');
    e.record('vm10', 2, 'local');
    assert.equal(e.looping('vm10', 2), false);
    e.record('vm10', 3, 'local');
    assert.equal(e.looping('vm10', 3), true);
    e.clear('vm10');
    assert.equal(e.looping('vm10', 3), false);
  });
});

describe('monitoring blackout', () => {
  const snap = (up: boolean[]): Snapshot => ({ hosts: new Map(up.map((u, i) => [`hv${i}`, { up: u, loadFive: null, cpuNum: null }])), vms: new Map() });
  it('is more than half of the hypervisors unreachable at once', () => {
    assert.equal(isBlackout(snap([false, false, true])), true);
    assert.equal(isBlackout(snap([false, true, true, true])), false);
    assert.equal(isBlackout(snap([false, false, true, true])), false);
  });
  it('never on a cluster too small to tell', () => {
    assert.equal(isBlackout(snap([false, false])), false);
  });
});

describe('evidence from the boot trace', () => {
  const ips: Record<string, string> = { vm10: '10.77.0.10', vm11: '10.77.0.11' };
  const ipOf = (vm: string) => ips[vm];
  const script = (at: number, peer = '10.77.0.10') => ({ at, kind: 'http.ipxe', host: 'vm10', data: { peer, status: 200, mode: 'local' } });

  it('counts boot attempts of PXE clients (a DISCOVER confirmed by a fetch from the VM\'s address) and passes every event on', async () => {
    const { evidenceTrace } = await import('./evidence.js');
    const seen: string[] = [];
    const ev = new PxeEvidence({ threshold: 2, window: 60_000 });
    const trace = evidenceTrace({ record: (e: { kind: string }) => void seen.push(e.kind) }, ev, { ipOf });
    trace.record({ at: 1, kind: 'dhcp.discover', host: 'vm10', data: { boot: 'local', pxe: true, arch: 0 } });
    trace.record({ at: 2, kind: 'dhcp.request', host: 'vm10', data: { boot: 'local', pxe: true } });
    trace.record(script(2));
    trace.record({ at: 3, kind: 'dhcp.discover', host: 'vm11', data: { boot: 'none' } });
    // The installed system's own DHCP client (no PXE vendor class): not a boot attempt.
    trace.record({ at: 3, kind: 'dhcp.discover', host: 'vm10', data: { boot: 'local' } });
    trace.record(script(3));
    assert.equal(ev.looping('vm10', 3), false);
    // Over TFTP: a whole transfer to the VM's address confirms it as well.
    trace.record({ at: 4, kind: 'dhcp.discover', host: 'vm10', data: { boot: 'local', pxe: true } });
    trace.record({ at: 5, kind: 'tftp.transfer', host: 'vm10', data: { file: 'pxelinux.cfg/01-52-54-00-77-00-10', mac: null, peer: '10.77.0.10:2070', outcome: 'complete' } });
    assert.equal(ev.looping('vm10', 5), true);
    assert.deepEqual(seen, ['dhcp.discover', 'dhcp.request', 'http.ipxe', 'dhcp.discover', 'dhcp.discover', 'http.ipxe', 'dhcp.discover', 'tftp.transfer']);
  });

  it('over IPv6: firmware\'s DHCPv6 Solicit confirmed by a fetch from the VM\'s own IPv6 address counts; from another, or an OS Solicit, does not', async () => {
    const { evidenceTrace } = await import('./evidence.js');
    const ev = new PxeEvidence({ threshold: 2, window: 60_000 });
    const trace = evidenceTrace({ record: () => undefined }, ev, { ipOf, ip6Of: (vm) => (vm === 'vm10' ? 'fd77::10' : undefined) });
    const solicit = (at: number, pxe: boolean) => trace.record({ at, kind: 'dhcp6.solicit', host: 'vm10', data: { boot: 'local', ...(pxe ? { pxe: true, arch: 7 } : {}) } });
    const loader = (at: number, peer: string) => trace.record({ at, kind: 'tftp.transfer', host: 'vm10', data: { file: 'shimx64.efi', mac: null, peer, outcome: 'complete' } });
    solicit(1, true);
    loader(2, '[fd77::99]:1500'); // another address
    solicit(3, false); // the installed system's DHCPv6 client
    loader(4, '[fd77::10]:1501');
    assert.equal(ev.looping('vm10', 5), false);
    solicit(5, true);
    loader(6, '[fd77:0:0:0::10]:1502'); // the VM's address, however it is spelled
    solicit(7, true);
    loader(8, '[fd77::10]:1503');
    assert.equal(ev.looping('vm10', 9), true);
  });

  it('a stranger\'s DISCOVERs with a VM\'s MAC are no loop: unconfirmed, or confirmed only by fetches from other addresses, late, or refused', async () => {
    const { evidenceTrace } = await import('./evidence.js');
    const ev = new PxeEvidence({ threshold: 2, window: 600_000 });
    const trace = evidenceTrace({ record: () => undefined }, ev, { ipOf });
    for (let i = 0; i < 10; i++) trace.record({ at: 1000 * i, kind: 'dhcp.discover', host: 'vm10', data: { boot: 'local', pxe: true } });
    assert.equal(ev.looping('vm10', 10_000), false, 'DISCOVERs alone');
    const spoofs = [
      // A local entry's pxelinux.cfg is readable by anyone: fetched whole from the stranger's own address.
      { kind: 'tftp.transfer', host: 'vm10', data: { file: 'pxelinux.cfg/01-52-54-00-77-00-10', mac: null, peer: '10.77.0.99:2070', outcome: 'complete' } },
      // A RRQ spoofed from the VM's address: the blocks go to the VM, which never acknowledges them.
      { kind: 'tftp.transfer', host: 'vm10', data: { file: 'pxelinux.0', mac: null, peer: '10.77.0.10:2070', outcome: 'timeout' } },
      { kind: 'http.ipxe', host: 'vm10', data: { peer: '10.77.0.99', status: 403 } },
      { kind: 'http.file', host: 'vm10', reason: 'complete', data: { file: '/boot/files/pxelinux.0', peer: '10.77.0.99', status: 200 } },
    ];
    for (const [i, s] of spoofs.entries()) {
      trace.record({ at: 20_000 + 1000 * i, kind: 'dhcp.discover', host: 'vm10', data: { boot: 'local', pxe: true } });
      trace.record({ at: 20_500 + 1000 * i, ...s });
    }
    assert.equal(ev.looping('vm10', 30_000), false, 'fetches from elsewhere, or not whole');
    // The VM's own fetch long after the DISCOVER is no confirmation of it.
    trace.record({ at: 40_000, kind: 'dhcp.discover', host: 'vm10', data: { boot: 'local', pxe: true } });
    trace.record(script(40_000 + BOOT_CONFIRM_MS + 1));
    assert.equal(ev.looping('vm10', 200_000), false);
    // Two real attempts: a loop.
    for (const at of [300_000, 310_000]) {
      trace.record({ at, kind: 'dhcp.discover', host: 'vm10', data: { boot: 'local', pxe: true } });
      trace.record(script(at + 500));
    }
    assert.equal(ev.looping('vm10', 310_500), true);
  });

  it('forgets the boots before a power action: they were another copy (reset, or destroyed before this start)', () => {
    const ev = new PxeEvidence({ threshold: 3, window: 60_000 });
    ev.record('vm10', 1_000, 'local');
    ev.record('vm10', 2_000, 'local');
    ev.powered('vm10', 3_000);
    ev.record('vm10', 4_000, 'local');
    assert.equal(ev.looping('vm10', 4_000), false, 'two boots of a copy that is gone and one of the new copy');
    ev.record('vm10', 5_000, 'local');
    ev.record('vm10', 6_000, 'local');
    assert.equal(ev.looping('vm10', 6_000), true, 'three boots since the power action: a loop');
    ev.powered('vm10', 7_000);
    assert.equal(ev.looping('vm10', 7_000), false);
  });
});

describe('install-failed evidence', () => {
  it('an accepted install-failed callback in the trace reaches the listeners at once; refused ones do not', () => {
    const ev = new PxeEvidence();
    const seen: string[] = [];
    const off = ev.onInstallFailed((vm) => seen.push(vm));
    const trace = evidenceTrace({ record: () => undefined }, ev, { ipOf: () => undefined });
    trace.record({ at: 1, kind: 'http.install-failed', host: 'vm10', data: { status: 403 } });
    trace.record({ at: 2, kind: 'http.install-done', host: 'vm11', data: { status: 200 } });
    trace.record({ at: 3, kind: 'http.install-failed', host: 'vm10', data: { status: 200 } });
    off();
    trace.record({ at: 4, kind: 'http.install-failed', host: 'vm12', data: { status: 200 } });
    assert.deepEqual(seen, ['vm10']);
  });
});

describe('BootEvidence sink', () => {
  it('turns accepted install callbacks into controller events; passes every event on, kinds it does not know (old rows) included', () => {
    const ev = new PxeEvidence({ threshold: 1, window: 60_000 });
    const passed: string[] = [];
    const events: BootEvidenceEvent[] = [];
    const sink = bootEvidence({ record: (e) => void passed.push(e.kind) }, ev, { ipOf: () => undefined, onEvent: (e) => events.push(e) });
    sink.record({ at: 1, kind: 'http.install-done', host: 'vm11', data: { peer: '10.77.0.11', status: 200 } });
    sink.record({ at: 2, kind: 'http.install-failed', host: 'vm10', data: { peer: '10.77.0.10', status: 403 } });
    sink.record({ at: 3, kind: 'http.install-failed', host: 'vm10', data: { peer: '10.77.0.10', status: 200 } });
    sink.record({ at: 4, kind: 'dhcp.legacy-kind', host: 'vm12', data: { boot: 'local' } });
    sink.record({ at: 5, kind: 'dhcp.request', host: 'vm12', data: null });
    assert.deepEqual(events, [{ type: 'install-done', vm: 'vm11', at: 1 }, { type: 'install-failed', vm: 'vm10', at: 3 }]);
    assert.deepEqual(passed, ['http.install-done', 'http.install-failed', 'http.install-failed', 'dhcp.legacy-kind', 'dhcp.request']);
    assert.equal(ev.looping('vm12', 5), false, 'an unknown kind is never evidence');
  });
});
