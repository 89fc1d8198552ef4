/**
 * The P2V job around real parts of 3rc (config, inventory, boot table, catalog, install
 * lifecycle, memory store, chunked images on disk) with a fake libvirt driver and HA view: the
 * flow from start to a protected VM, the token and state checks, cancel, a capture's failure,
 * and a restart in the middle of a capture.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MemoryStore } from '../store/memory.js';
import { createLogger } from '../lib/log.js';
import { DiskImage } from './disk-image.js';
import { CaptureErrorCodes } from '../lib/errors.js';
import { CaptureRefused, type CaptureErrorCode } from './service.js';
import { chunk, cleanWorlds, disk, MAC, MIB, report, world } from './testkit.js';

after(cleanWorlds);

/** Waits (polling, no deadline of its own) until the job of phys16 has left `phase`. */
async function leaves(w: { svc: { job(h: string): { phase: string } } }, phase: string): Promise<void> {
  while (w.svc.job('phys16').phase === phase) await new Promise((r) => setTimeout(r, 5));
}

describe('P2V job', () => {
  it('captures, checks, defines and starts the VM with the host MAC, and protects it', async () => {
    const w = await world({ power: true });
    const j = await w.svc.start('phys16', { to: 'hv1' });
    assert.equal(j.phase, 'booting');
    assert.equal(j.power, 'command');
    assert.deepEqual(w.calls, ["power cycle 'phys16' '10.77.0.16'"]);
    assert.equal(w.bootTable.get(MAC)?.mode, 'install');
    assert.equal(w.bootTable.get(MAC)?.profile, 'capture');

    const answer = await w.svc.hardware(MAC, w.token(), report);
    assert.equal(answer, `chunk_bytes ${MIB}\ndisk vda ${disk.length} 0\n`);
    for (const i of [0, 1, 2]) {
      const c = chunk(i);
      await w.svc.chunk(MAC, w.token(), 'vda', i, c.sha, c.body);
    }
    const v = w.svc.job('phys16');
    assert.equal(v.diskProgress[0]!.chunksReceived, 3);
    assert.equal(v.progress?.bytes, disk.length);
    const token = w.token();
    const done = await w.svc.complete(MAC, token);
    const sha = createHash('sha256').update(disk).digest('hex');
    assert.deepEqual(done, { status: 200, text: `ok vda=${sha}\n` }, 'hashed as the chunks came: answered at once');
    assert.equal(w.bootTable.get(MAC)?.mode, 'local', 'the MAC now boots its disk (as the VM)');
    assert.deepEqual(readFileSync(join(w.storage, 'phys16-vda.img')), disk);

    // The VM is made in the background, after the grace for the physical host to power off.
    for (let i = 0; i < 50 && ['captured', 'creating-vm'].includes(w.svc.job('phys16').phase); i++) {
      await new Promise((r) => setImmediate(r));
      w.clock.advance(1000);
    }
    await w.svc.idle();
    const end = w.svc.job('phys16');
    assert.equal(end.phase, 'done', end.message);
    assert.deepEqual(w.calls.slice(1), ["power off 'phys16'", `define hv1 ${MAC} 2 1024`, `define hv2 ${MAC} 2 1024`, 'start hv1 phys16']);
    assert.equal(w.inventory.hostByName('phys16')?.hypervisor, 'hv1');
    assert.equal(w.inventory.hostByName('phys16')?.cpus, 2);
    assert.deepEqual(w.adopted.map((s) => [s.name, s.host, s.mac]), [['phys16', 'hv1', MAC]]);
    assert.equal(end.protectedByHa, true);
    assert.deepEqual(end.standby, ['hv2']);
    // The token is spent: the capture cannot call again.
    await assert.rejects(w.svc.complete(MAC, token), (e: unknown) => e instanceof CaptureRefused && e.code === CaptureErrorCodes.NOT_FOUND);
    // A VM cannot be captured again.
    await assert.rejects(w.svc.start('phys16', { to: 'hv1' }), /is a VM already/);
  });

  it('refuses wrong tokens, bad chunks and incomplete captures', async () => {
    const w = await world();
    const j = await w.svc.start('phys16', { to: 'hv1' });
    assert.equal(j.power, 'operator');
    assert.match(j.message, /reboot phys16 \(10\.77\.0\.16\) now/);
    const status = (p: Promise<unknown>, code: CaptureErrorCode) => assert.rejects(p, (e: unknown) => e instanceof CaptureRefused && e.code === code);
    await status(w.svc.hardware(MAC, 'nope', report), CaptureErrorCodes.FORBIDDEN);
    await status(w.svc.hardware(MAC, w.token(), 'cpus x\n'), CaptureErrorCodes.INVALID);
    await status(w.svc.chunk(MAC, w.token(), 'vda', 0, 'a'.repeat(64), chunk(0).body), CaptureErrorCodes.CONFLICT);
    await w.svc.hardware(MAC, w.token(), report);
    await status(w.svc.chunk(MAC, w.token(), 'vdb', 0, chunk(0).sha, chunk(0).body), CaptureErrorCodes.NOT_FOUND);
    await status(w.svc.chunk(MAC, w.token(), 'vda', 0, 'a'.repeat(64), chunk(0).body), CaptureErrorCodes.INVALID);
    await status(w.svc.chunk(MAC, w.token(), 'vda', 7, chunk(0).sha, chunk(0).body), CaptureErrorCodes.INVALID);
    await status(w.svc.complete(MAC, w.token()), CaptureErrorCodes.CONFLICT);
    assert.equal(w.bootTable.get(MAC)?.mode, 'install');
    await assert.rejects(w.svc.start('phys16', { to: 'hv1' }), /in progress/);
    await assert.rejects(w.svc.start('vm10', { to: 'hv1' }), /is a VM already/);
    await assert.rejects(w.svc.start('phys16', { to: 'hv9' }), /no hypervisor named/);
  });

  it('a power command that cannot be filled in is refused before the host is touched', async () => {
    const w = await world({ power: true });
    w.inventory.replaceHosts(w.inventory.hosts().map((h) => (h.name === 'phys16' ? { ...h, power: { cycle: 'ipmitool -H {{bmc}} chassis power cycle', timeout: 5000 } } : h)));
    await assert.rejects(w.svc.start('phys16', { to: 'hv1' }), /power command of phys16 cannot be used .*no value for \{\{bmc\}\}/);
    assert.equal(w.bootTable.get(MAC)?.mode, 'local');
    assert.deepEqual(w.calls, []);
    assert.throws(() => w.svc.job('phys16'), /no P2V of "phys16"/);
  });

  it('a cancel or a failed capture puts the host back on its own disk', async () => {
    const w = await world();
    await w.svc.start('phys16', { to: 'hv1' });
    const c = await w.svc.cancel('phys16');
    assert.equal(c.phase, 'cancelled');
    assert.equal(w.bootTable.get(MAC)?.mode, 'local');

    await w.svc.start('phys16', { to: 'hv2' });
    await w.svc.hardware(MAC, w.token(), report);
    const r = await w.install.failed(MAC, w.token(), 'dd: read error');
    assert.equal(r.status, 'ok');
    await w.svc.idle();
    const j = w.svc.job('phys16');
    assert.equal(j.phase, 'failed');
    assert.match(j.message, /reported a failure/);
    assert.equal(w.bootTable.get(MAC)?.mode, 'local');
  });

  it('captures every disk of the report, in order, as vda, vdb', async () => {
    const w = await world();
    await w.svc.start('phys16', { to: 'hv1' });
    const two = `${report}disk sdb ${MIB}\n`;
    assert.equal(await w.svc.hardware(MAC, w.token(), two), `chunk_bytes ${MIB}\ndisk vda ${disk.length} 0\ndisk sdb ${MIB} 0\n`);
    // The disks cannot change while the capture runs.
    await assert.rejects(w.svc.hardware(MAC, w.token(), report), (e: unknown) => e instanceof CaptureRefused && e.code === CaptureErrorCodes.CONFLICT);
    for (const i of [0, 1, 2]) await w.svc.chunk(MAC, w.token(), 'vda', i, chunk(i).sha, chunk(i).body);
    await assert.rejects(w.svc.complete(MAC, w.token()), /sdb is incomplete: chunk 0 of 1 is missing/);
    await w.svc.chunk(MAC, w.token(), 'sdb', 0, chunk(0).sha, chunk(0).body);
    assert.match((await w.svc.complete(MAC, w.token())).text, /^ok vda=[0-9a-f]{64} sdb=[0-9a-f]{64}\n$/);
    const j = w.svc.job('phys16');
    assert.deepEqual(j.disks.map((d) => d.file), ['phys16-vda.img', 'phys16-sdb.img']);
  });

  it('a capture is not expired by install.timeout (p2v.timeout is its limit)', async () => {
    const w = await world();
    await w.svc.start('phys16', { to: 'hv1' });
    w.clock.advance(3 * 3600_000);
    assert.equal(await w.install.sweep(), 0);
    assert.equal(w.bootTable.get(MAC)?.mode, 'install');
  });

  it('a restarted 3rc carries on with the capture where it was', async () => {
    const store = new MemoryStore();
    const w = await world({ store });
    await w.svc.start('phys16', { to: 'hv1' });
    await w.svc.hardware(MAC, w.token(), report);
    await w.svc.chunk(MAC, w.token(), 'vda', 0, chunk(0).sha, chunk(0).body);
    w.svc.stop();
    const again = await world({ store, storage: w.storage });
    assert.equal(again.svc.job('phys16').phase, 'capturing');
    // The capture environment rebooted too: its new report resumes at chunk 1.
    assert.equal(await again.svc.hardware(MAC, again.token(), report), `chunk_bytes ${MIB}\ndisk vda ${disk.length} 1\n`);
    for (const i of [1, 2]) await again.svc.chunk(MAC, again.token(), 'vda', i, chunk(i).sha, chunk(i).body);
    // The running hash died with the old process: the image is hashed in the background.
    assert.equal((await again.svc.complete(MAC, again.token())).status, 202);
    await leaves(again, 'verifying');
    assert.deepEqual(readFileSync(join(w.storage, 'phys16-vda.img')), disk);
    assert.equal(again.svc.job('phys16').disks[0]!.sha256, createHash('sha256').update(disk).digest('hex'));
  });

  it("starting a P2V deletes only that host's images on record, never another host's by a shared prefix", async () => {
    const w = await world();
    // phys16-db is another host; its image and sidecar, and an unrelated file.
    const others = ['phys16-db-sda.img', 'phys16-db-sda.img.chunks.json', 'phys16-notes.txt'];
    for (const f of others) writeFileSync(join(w.storage, f), 'keep me');
    await w.svc.start('phys16', { to: 'hv1' });
    await w.svc.hardware(MAC, w.token(), report);
    await w.svc.chunk(MAC, w.token(), 'vda', 0, chunk(0).sha, chunk(0).body);
    await w.svc.cancel('phys16');
    assert.ok(existsSync(join(w.storage, 'phys16-vda.img')));
    // Again: the cancelled capture's own image (on record) goes, the others stay.
    await w.svc.start('phys16', { to: 'hv1' });
    assert.ok(!existsSync(join(w.storage, 'phys16-vda.img')), 'the previous capture of phys16 is deleted');
    assert.ok(!existsSync(join(w.storage, 'phys16-vda.img.chunks.json')));
    for (const f of others) assert.equal(readFileSync(join(w.storage, f), 'utf8'), 'keep me', f);
  });

  it('a stale image of the same name (no record of it) is not resumed by a new capture', async () => {
    const first = await world();
    await first.svc.start('phys16', { to: 'hv1' });
    await first.svc.hardware(MAC, first.token(), report);
    await first.svc.chunk(MAC, first.token(), 'vda', 0, chunk(0).sha, chunk(0).body);
    first.svc.stop();
    // A new store (the record is gone), the same storage with phys16-vda.img and its sidecar.
    const w = await world({ storage: first.storage });
    await w.svc.start('phys16', { to: 'hv1' });
    assert.equal(await w.svc.hardware(MAC, w.token(), report), `chunk_bytes ${MIB}\ndisk vda ${disk.length} 0\n`);
  });

  it('complete answers at once for chunks sent in order; out of order it verifies in the background (202), once', async () => {
    const w = await world();
    await w.svc.start('phys16', { to: 'hv1' });
    await w.svc.hardware(MAC, w.token(), report);
    for (const i of [1, 0, 2]) await w.svc.chunk(MAC, w.token(), 'vda', i, chunk(i).sha, chunk(i).body);
    let hashes = 0;
    const sha256 = DiskImage.prototype.sha256;
    DiskImage.prototype.sha256 = function (this: DiskImage) {
      hashes++;
      return sha256.call(this);
    };
    try {
      const token = w.token();
      const first = await w.svc.complete(MAC, token);
      assert.deepEqual(first, { status: 202, text: 'verifying vda\n' });
      assert.equal(w.svc.job('phys16').phase, 'verifying');
      // The capture retries (its HTTP client timed out): no second hash.
      assert.equal((await w.svc.complete(MAC, token)).status, 202);
      await assert.rejects(w.svc.chunk(MAC, token, 'vda', 0, chunk(0).sha, chunk(0).body), (e: unknown) => e instanceof CaptureRefused && e.code === CaptureErrorCodes.CONFLICT);
      await leaves(w, 'verifying');
      assert.equal(hashes, 1);
      const j = w.svc.job('phys16');
      assert.ok(['captured', 'creating-vm'].includes(j.phase), j.phase);
      assert.equal(j.disks[0]!.sha256, createHash('sha256').update(disk).digest('hex'));
      assert.equal(w.bootTable.get(MAC)?.mode, 'local', 'completed by itself: the token is spent');
      await assert.rejects(w.svc.complete(MAC, token), (e: unknown) => e instanceof CaptureRefused && e.code === CaptureErrorCodes.NOT_FOUND);
    } finally {
      DiskImage.prototype.sha256 = sha256;
    }
  });

  it('a capture timing out while the store fails is logged, not an unhandled rejection', async () => {
    const lines: string[] = [];
    const log = createLogger('info', { write: (l: string) => void lines.push(l) });
    const w = await world({ log });
    await w.svc.start('phys16', { to: 'hv1' });
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      w.store.write = async () => {
        throw new Error('disk full');
      };
      w.clock.advance(6 * 3600_000 + 1);
      await w.svc.idle();
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      assert.deepEqual(unhandled, []);
      assert.ok(lines.some((l) => l.includes('disk full') && l.includes('"level":50')), lines.join('\n'));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('P2V target: the planner with the placement rules and the reserve', () => {
  /** The lab's hypervisors with room for phys16 (2 CPUs), then the test's changes. */
  const roomy = (more: (raw: Record<string, unknown>) => void) => (raw: Record<string, unknown>) => {
    for (const h of raw.hypervisors as { capacity: Record<string, number> }[]) h.capacity = { cpus: 16, memoryMb: 4096, vms: 8 };
    more(raw);
  };
  const ha = (raw: Record<string, unknown>) => ((raw.ha ??= {}) as Record<string, unknown>);
  const phys16 = (raw: Record<string, unknown>) => (raw.hosts as Record<string, unknown>[]).find((h) => h.name === 'phys16')!;

  /** Captures phys16 and lets the VM be made; the job's end. */
  async function capture(w: Awaited<ReturnType<typeof world>>) {
    await w.svc.hardware(MAC, w.token(), report);
    for (const i of [0, 1, 2]) {
      const c = chunk(i);
      await w.svc.chunk(MAC, w.token(), 'vda', i, c.sha, c.body);
    }
    await w.svc.complete(MAC, w.token());
    for (let i = 0; i < 50 && ['captured', 'creating-vm'].includes(w.svc.job('phys16').phase); i++) {
      await new Promise((r) => setImmediate(r));
      w.clock.advance(1000);
    }
    await w.svc.idle();
    return w.svc.job('phys16');
  }

  it('required hosts: a VM that may run only on hv2 starts there, whatever --to said, and says why', async () => {
    const w = await world({ power: true, cluster: true, edit: roomy((raw) => Object.assign(phys16(raw), { hosts: ['hv2'] })) });
    await w.svc.start('phys16', { to: 'hv1' });
    const end = await capture(w);
    assert.equal(end.phase, 'done', end.message);
    assert.deepEqual(w.calls.filter((c) => c.startsWith('start')), ['start hv2 phys16']);
    assert.equal(w.inventory.hostByName('phys16')?.hypervisor, 'hv2');
    assert.deepEqual(w.adopted.map((s) => [s.name, s.host]), [['phys16', 'hv2']]);
    assert.equal(end.to, 'hv2');
    assert.deepEqual(end.standby, ['hv1']);
    assert.match(end.message, /runs as a VM on hv2 .*\(not on hv1: hv1 refused: hv1 not in its hosts \(hv2\)\)/);
  });

  it('no hypervisor allowed: the capture is refused before the host is touched, naming the rules', async () => {
    const w = await world({ power: true, cluster: true, edit: roomy((raw) => {
      Object.assign(phys16(raw), { hosts: ['hv1'] });
      (raw.hypervisors as Record<string, unknown>[])[0]!.maintenance = true;
    }) });
    await assert.rejects(w.svc.start('phys16', { to: 'hv2' }), /phys16 could run on no hypervisor under the placement rules .*: hv2 not in its hosts \(hv1\); hv1 in maintenance; the capture is not started/);
    assert.deepEqual(w.calls, [], 'not power-cycled');
    assert.equal(w.bootTable.get(MAC)?.mode ?? 'local', 'local');
  });

  it('the failover reserve: no hypervisor with room outside it, the VM is not started', async () => {
    // hv1 and hv2 each run 3 VMs of 1024 MiB of 4096; a reserve of a quarter leaves 3072: no room for phys16's 1024.
    const w = await world({ power: true, cluster: true, edit: roomy((raw) => (ha(raw).admission = { reserve: { memoryShare: 0.25 } })) });
    await w.svc.start('phys16', { to: 'hv1' });
    const end = await capture(w);
    assert.equal(end.phase, 'failed');
    assert.match(end.message, /no hypervisor it is defined on may run it under the placement rules: hv1, hv2 out of memory/);
    assert.deepEqual(w.calls.filter((c) => c.startsWith('start')), []);
    assert.deepEqual(w.adopted, []);
  });
});
