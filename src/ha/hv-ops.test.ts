import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeBmc } from '../bmc/fake.js';
import type { BootEntry } from '../domain/boot-entry.js';
import { Inventory, type Hypervisor } from '../inventory/inventory.js';
import { FakeClock } from '../lib/clock.js';
import { silentLogger } from '../lib/log.js';
import { MemoryStore } from '../store/memory.js';
import { NO_RULES } from './affinity.js';
import { HypervisorOps, type HvOpsDeps } from './hv-ops.js';

const MAC = '52:54:00:77:00:02';
const MACS: Record<string, string> = { hv1: MAC, hv2: '52:54:00:77:00:03' };
const hv: Hypervisor = { name: 'hv1', address: '10.77.0.2', mac: MAC, profile: 'debian12', driver: 'libvirt', ssh: { user: 'root', port: 22 }, loadThreshold: 4, maintenance: false, migrateFlags: [], capacity: {}, boot: 'local', vars: {} };
const hv2: Hypervisor = { ...hv, name: 'hv2', address: '10.77.0.3', mac: MACS.hv2! };
const settle = async () => {
  for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
};

/**
 * hv1 and hv2, each behind a fake BMC; the "installer" calls install-done 10 minutes after the BMC
 * powered its host on with the PXE override, and SSH answers 700 s after. `deps(clock)`: the deps of
 * a 3rc on this world (its own clock: a frozen one stands for a dead 3rc); `ops` one on the world's.
 */
function setup() {
  const clock = new FakeClock(1_000_000);
  const store = new MemoryStore();
  const entries = new Map<string, BootEntry>();
  const calls: string[] = [];
  /** Power cycles into an install, per host, in order. */
  const cycles: string[] = [];
  const poweredAt = new Map<string, number>();
  const bmcs = new Map(['hv1', 'hv2'].map((name) => {
    const b = new FakeBmc(name);
    const power = b.power.bind(b);
    b.power = async (a) => {
      const pxe = b.bootOverride === 'pxe';
      const s = await power(a);
      if (a === 'cycle' && pxe && entries.get(MACS[name]!)?.mode === 'install') {
        poweredAt.set(MACS[name]!, clock.now());
        cycles.push(name);
      }
      return s;
    };
    return [name, b] as const;
  }));
  const deps = (own: FakeClock): HvOpsDeps => ({
    controller: {
      drain: async (h) => (calls.push(`drain ${h}`), { host: h, moved: [], idle: [], stopped: null, ms: 0 }),
      setMaintenance: async (h, on) => void calls.push(`maintenance ${h} ${on}`),
      clusterView: () => ({ hosts: [], vms: [], rules: NO_RULES }),
    },
    driver: {
      reachable: async (h) => {
        const at = poweredAt.get(MACS[h]!);
        return at !== undefined && clock.now() - at > 700_000;
      },
    },
    bootTable: {
      get: (mac) => {
        // The installer's done call: the boot table goes local with result done.
        const e = entries.get(mac);
        const at = poweredAt.get(mac);
        if (e?.mode === 'install' && at !== undefined && clock.now() - at >= 600_000) entries.set(mac, { ...e, mode: 'local', token: null, since: clock.now(), result: 'done' });
        return entries.get(mac);
      },
      setInstall: async (mac) => {
        const e: BootEntry = { mac, mode: 'install', profile: 'debian12', token: 't', since: clock.now(), result: null };
        entries.set(mac, e);
        return e;
      },
    },
    inventory: new Inventory([], [{ name: 'debian12', installer: 'preseed', kernel: 'k', initrd: 'i', kernelArgs: '', vars: {} }], [hv, hv2]),
    bmc: (h) => bmcs.get(h) ?? null,
    store,
    clock: own,
    log: silentLogger,
    pollMs: 5000,
  });
  return { clock, store, bmc: bmcs.get('hv1')!, ops: new HypervisorOps(deps(clock)), deps, calls, entries, cycles };
}

/** Advances the clocks 5 s at a time until `done()` (at most 2000 times). */
async function runUntil(clocks: FakeClock[], done: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !done(); i++) {
    await settle();
    if (!done()) for (const c of clocks) c.advance(5000);
  }
  assert.ok(done(), 'never got there');
}

describe('HypervisorOps.reinstall', () => {
  it('drains, PXE-boots hv1 through its BMC into an install of its profile, waits for install-done and SSH, then undrains; each step an event', async () => {
    const s = setup();
    let done = false;
    const p = s.ops.reinstall('hv1').finally(() => (done = true));
    for (let i = 0; i < 1000 && !done; i++) {
      await settle();
      if (!done) s.clock.advance(5000);
    }
    const r = await p;
    assert.equal(r.failed, null, JSON.stringify(r.failed));
    assert.deepEqual(s.calls, ['drain hv1', 'maintenance hv1 false']);
    assert.equal(s.entries.get(MAC)?.result, 'done');
    assert.deepEqual(s.ops.status().reinstalls, [{ host: 'hv1', step: 'undrain', state: 'done', why: null }]);
    const reasons = (await s.store.queryEvents({ kind: 'hypervisor.drain', host: 'hv1' })).map((e) => e.reason);
    assert.deepEqual(reasons.filter((x) => x?.endsWith('-done')), ['reinstall-drain-done', 'reinstall-pxe-done', 'reinstall-cycle-done', 'reinstall-install-done', 'reinstall-ready-done', 'reinstall-undrain-done']);
  });

  it('a second reinstall of the same host while one runs is refused (409)', async () => {
    const s = setup();
    const first = s.ops.reinstall('hv1');
    await assert.rejects(s.ops.reinstall('hv1'), /a reinstall of hv1 runs already/);
    s.bmc.down = true;
    await settle();
    s.clock.advance(10_000);
    const r = await first;
    assert.equal(r.failed?.step, 'pxe');
  });
});

describe('HypervisorOps roll: kept in the store, cancel, resume', () => {
  it('a 3rc restarted mid-roll says where it stopped; --resume waits for the cut install and never re-images a host twice', async () => {
    const s = setup();
    // The first 3rc runs on its own clock, advanced with the world's until it dies.
    const first = new FakeClock(s.clock.now());
    const ops1 = new HypervisorOps(s.deps(first));
    ops1.startRoll(['hv1', 'hv2']);
    await runUntil([s.clock, first], () => ops1.status().reinstalls.find((r) => r.host === 'hv2')?.step === 'install');
    await ops1.flushed();
    assert.deepEqual(s.cycles, ['hv1', 'hv2'], 'hv2 was power-cycled into its installer when 3rc died');
    // 3rc dies here (its clock stops); a new one starts on the same store.
    const ops2 = new HypervisorOps(s.deps(s.clock));
    await ops2.restore();
    const cut = ops2.status().roll!;
    assert.deepEqual(cut.done, ['hv1']);
    assert.equal(cut.current, null);
    assert.equal(cut.stopped?.host, 'hv2');
    assert.equal(cut.stopped?.interrupted, true);
    assert.match(cut.stopped!.why, /^3rc restarted during the roll, at hv2: its reinstall had reached install \(started\); 3rc hv roll --resume goes on$/);
    // A second restart shows the same (the interrupted state was written back).
    const ops3 = new HypervisorOps(s.deps(s.clock));
    await ops3.restore();
    assert.deepEqual(ops3.status().roll, cut);

    await ops2.resumeRoll();
    await runUntil([s.clock], () => ops2.status().roll?.endedAt !== null);
    const end = ops2.status().roll!;
    assert.equal(end.stopped, null, JSON.stringify(end.stopped));
    assert.deepEqual(end.done, ['hv1', 'hv2']);
    assert.deepEqual(s.cycles, ['hv1', 'hv2'], 'hv2 not power-cycled again, hv1 not touched again');
    assert.deepEqual(s.calls.filter((c) => c.startsWith('drain')), ['drain hv1', 'drain hv2'], 'hv2 not drained again');
    await ops2.flushed();
    const ops4 = new HypervisorOps(s.deps(s.clock));
    await ops4.restore();
    assert.deepEqual(ops4.status().roll?.done, ['hv1', 'hv2'], 'the finished roll is what the next 3rc shows');
    await assert.rejects(ops4.resumeRoll(), /nothing to resume/);
  });

  it('--cancel stops the roll after the current host; --resume goes on with the rest', async () => {
    const s = setup();
    s.ops.startRoll(['hv1', 'hv2']);
    await settle();
    const asked = s.ops.cancelRoll();
    assert.equal(asked.cancelling, true);
    assert.equal(asked.current, 'hv1');
    await runUntil([s.clock], () => s.ops.status().roll?.endedAt !== null);
    const p = s.ops.status().roll!;
    assert.deepEqual(p.done, ['hv1'], 'the current host finished');
    assert.equal(p.stopped?.host, 'hv2');
    assert.equal(p.stopped?.cancelled, true);
    assert.match(p.stopped!.why, /^cancelled by the operator after hv1: hv2 not touched/);
    assert.deepEqual(s.cycles, ['hv1']);
    assert.throws(() => s.ops.cancelRoll(), /no roll runs/);
    await s.ops.resumeRoll();
    await runUntil([s.clock], () => s.ops.status().roll?.endedAt !== null);
    assert.deepEqual(s.ops.status().roll?.done, ['hv1', 'hv2']);
    assert.deepEqual(s.cycles, ['hv1', 'hv2']);
  });

  it('each step\'s limit comes from the deps (ha.reinstall.timeouts): an install over it fails at install', async () => {
    const s = setup();
    const ops = new HypervisorOps({ ...s.deps(s.clock), timeouts: { install: 120_000 } });
    let done = false;
    const p = ops.reinstall('hv1').finally(() => (done = true));
    await runUntil([s.clock], () => done);
    const r = await p;
    assert.equal(r.failed?.step, 'install');
    assert.match(r.failed!.why, /not within 120 s/);
  });
});
