/**
 * The P2V job around real parts of 3rc (config, inventory, boot table, catalog, install
 * lifecycle, memory store, chunked images on disk) with a fake libvirt driver and HA view: the
 * flow from start to a protected VM, the token and state checks, cancel, a capture's failure,
 * and a restart in the middle of a capture.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../config/load.js';
import type { VmSpec } from '../ha/controller.js';
import { inactiveHa, type HaView } from '../ha/view.js';
import { BootTable } from '../inventory/boot-table.js';
import { HostCatalog } from '../inventory/catalog.js';
import { InstallLifecycle } from '../inventory/install.js';
import { Inventory } from '../inventory/inventory.js';
import { FakeClock } from '../lib/clock.js';
import { silentLogger } from '../lib/log.js';
import { packageRoot } from '../lib/paths.js';
import { MemoryStore } from '../store/memory.js';
import { CaptureRefused, P2vService, type P2vDriver } from './service.js';

const MAC = '52:54:00:77:00:16';
const MIB = 1024 * 1024;
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function world(opts: { power?: boolean; store?: MemoryStore; storage?: string } = {}) {
  const storage = opts.storage ?? mkdtempSync(join(tmpdir(), '3rc-p2v-svc-'));
  dirs.push(storage);
  const raw = parse(readFileSync(join(packageRoot(), 'examples', 'lab.yaml'), 'utf8')) as Record<string, unknown>;
  raw.hosts = [...(raw.hosts as unknown[]), { name: 'phys16', mac: MAC, ip: '10.77.0.16', profile: 'debian12-image', role: 'services', ...(opts.power ? { power: { cycle: 'cycle {{host}} {{ip}}', off: 'off {{host}}', timeout: '5s' } } : {}) }];
  raw.p2v = { storage, domainType: 'qemu', chunkMb: 1 };
  raw.store = { path: join(storage, 'x.db') };
  const config = parseConfig(stringify(raw), join(packageRoot(), 'examples', 'lab.yaml'));
  const store = opts.store ?? new MemoryStore();
  const clock = new FakeClock();
  const inventory = Inventory.fromConfig(config);
  const catalog = new HostCatalog({ config, store, inventory, clock, log: silentLogger });
  await catalog.load();
  const bootTable = await BootTable.load({ store, inventory, clock });
  const install = new InstallLifecycle({ bootTable, inventory, store, clock, log: silentLogger, timeoutMs: 3600_000 });
  const calls: string[] = [];
  const driver: P2vDriver = {
    reachable: async (h) => h === 'hv1' || h === 'hv2',
    define: async (h, xml) => void calls.push(`define ${h} ${/<mac address='([^']+)'/.exec(xml)?.[1]} ${/<vcpu>(\d+)/.exec(xml)?.[1]} ${/<memory unit='MiB'>(\d+)/.exec(xml)?.[1]}`),
    start: async (h, vm) => void calls.push(`start ${h} ${vm}`),
  };
  const adopted: VmSpec[] = [];
  const ha: HaView = { ...inactiveHa('x'), active: true, reason: null, adopt: (s) => (adopted.push(s), true) };
  const svc = await P2vService.load({
    config, inventory, catalog, bootTable, install, store, clock, log: silentLogger, driver, ha: () => ha, poweroffGraceMs: 1000, probe: async () => true,
    runPower: async (cmd) => (calls.push(`power ${cmd}`), { code: 0, out: '' }),
  });
  const token = () => bootTable.get(MAC)?.token ?? undefined;
  return { svc, store, clock, bootTable, inventory, calls, adopted, storage, token, install };
}

/** A 2.5 MiB disk: random, zeros and random again, sent in 1 MiB gzip chunks. */
const disk = Buffer.concat([randomBytes(MIB), Buffer.alloc(MIB), randomBytes(MIB / 2)]);
const report = `cpus 2\nmemory_kb 1014236\nfirmware bios\nnic ens3 ${MAC}\ndisk vda ${disk.length}\n`;
const chunk = (i: number) => {
  const gz = gzipSync(disk.subarray(i * MIB, (i + 1) * MIB), { level: 1 });
  return { body: Readable.from([gz]), sha: createHash('sha256').update(gz).digest('hex') };
};

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
    assert.equal(done, `ok vda=${sha}\n`);
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
    assert.deepEqual(w.calls.slice(1), ["power off 'phys16'", `define hv1 ${MAC} 2 1024`, 'start hv1 phys16']);
    assert.equal(w.inventory.hostByName('phys16')?.hypervisor, 'hv1');
    assert.equal(w.inventory.hostByName('phys16')?.cpus, 2);
    assert.deepEqual(w.adopted.map((s) => [s.name, s.host, s.mac]), [['phys16', 'hv1', MAC]]);
    assert.equal(end.protectedByHa, true);
    // The token is spent: the capture cannot call again.
    await assert.rejects(w.svc.complete(MAC, token), (e: unknown) => e instanceof CaptureRefused && e.status === 404);
    // A VM cannot be captured again.
    await assert.rejects(w.svc.start('phys16', { to: 'hv1' }), /is a VM already/);
  });

  it('refuses wrong tokens, bad chunks and incomplete captures', async () => {
    const w = await world();
    const j = await w.svc.start('phys16', { to: 'hv1' });
    assert.equal(j.power, 'operator');
    assert.match(j.message, /reboot phys16 \(10\.77\.0\.16\) now/);
    const status = (p: Promise<unknown>, s: number) => assert.rejects(p, (e: unknown) => e instanceof CaptureRefused && e.status === s);
    await status(w.svc.hardware(MAC, 'nope', report), 403);
    await status(w.svc.hardware(MAC, w.token(), 'cpus x\n'), 400);
    await status(w.svc.chunk(MAC, w.token(), 'vda', 0, 'a'.repeat(64), chunk(0).body), 409);
    await w.svc.hardware(MAC, w.token(), report);
    await status(w.svc.chunk(MAC, w.token(), 'vdb', 0, chunk(0).sha, chunk(0).body), 404);
    await status(w.svc.chunk(MAC, w.token(), 'vda', 0, 'a'.repeat(64), chunk(0).body), 400);
    await status(w.svc.chunk(MAC, w.token(), 'vda', 7, chunk(0).sha, chunk(0).body), 400);
    await status(w.svc.complete(MAC, w.token()), 409);
    assert.equal(w.bootTable.get(MAC)?.mode, 'install');
    await assert.rejects(w.svc.start('phys16', { to: 'hv1' }), /in progress/);
    await assert.rejects(w.svc.start('vm10', { to: 'hv1' }), /is a VM already/);
    await assert.rejects(w.svc.start('phys16', { to: 'hv9' }), /no hypervisor named/);
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
    await again.svc.complete(MAC, again.token());
    assert.deepEqual(readFileSync(join(w.storage, 'phys16-vda.img')), disk);
  });
});
