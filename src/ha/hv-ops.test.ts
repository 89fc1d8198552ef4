import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeBmc } from '../bmc/fake.js';
import type { BootEntry } from '../domain/boot-entry.js';
import { Inventory, type Hypervisor } from '../inventory/inventory.js';
import { FakeClock } from '../lib/clock.js';
import { silentLogger } from '../lib/log.js';
import { MemoryStore } from '../store/memory.js';
import { NO_RULES } from './affinity.js';
import { HypervisorOps } from './hv-ops.js';

const MAC = '52:54:00:77:00:02';
const hv: Hypervisor = { name: 'hv1', address: '10.77.0.2', mac: MAC, profile: 'debian12', driver: 'libvirt', ssh: { user: 'root', port: 22 }, loadThreshold: 4, maintenance: false, migrateFlags: [], capacity: {}, boot: 'local', vars: {} };
const settle = async () => {
  for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
};

/** hv1 behind a fake BMC; the "installer" calls install-done 10 minutes after the BMC powered it on with the PXE override. */
function setup() {
  const clock = new FakeClock(1_000_000);
  const store = new MemoryStore();
  const bmc = new FakeBmc('hv1');
  const entries = new Map<string, BootEntry>();
  const calls: string[] = [];
  let poweredAt: number | null = null;
  const power = bmc.power.bind(bmc);
  bmc.power = async (a) => {
    const pxe = bmc.bootOverride === 'pxe';
    const s = await power(a);
    if (a === 'cycle' && pxe && entries.get(MAC)?.mode === 'install') poweredAt = clock.now();
    return s;
  };
  const ops = new HypervisorOps({
    controller: {
      drain: async (h) => (calls.push(`drain ${h}`), { host: h, moved: [], idle: [], stopped: null, ms: 0 }),
      setMaintenance: async (h, on) => void calls.push(`maintenance ${h} ${on}`),
      clusterView: () => ({ hosts: [], vms: [], rules: NO_RULES }),
    },
    driver: { reachable: async () => poweredAt !== null && clock.now() - poweredAt > 700_000 },
    bootTable: {
      get: (mac) => {
        // The installer's done call: the boot table goes local with result done.
        const e = entries.get(mac);
        if (e?.mode === 'install' && poweredAt !== null && clock.now() - poweredAt >= 600_000) entries.set(mac, { ...e, mode: 'local', token: null, since: clock.now(), result: 'done' });
        return entries.get(mac);
      },
      setInstall: async (mac) => {
        const e: BootEntry = { mac, mode: 'install', profile: 'debian12', token: 't', since: clock.now(), result: null };
        entries.set(mac, e);
        return e;
      },
    },
    inventory: new Inventory([], [{ name: 'debian12', installer: 'preseed', kernel: 'k', initrd: 'i', kernelArgs: '', vars: {} }], [hv]),
    bmc: (h) => (h === 'hv1' ? bmc : null),
    store,
    clock,
    log: silentLogger,
    pollMs: 5000,
  });
  return { clock, store, bmc, ops, calls, entries };
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
