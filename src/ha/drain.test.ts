import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { SimTimings } from '../hypervisor/sim.js';
import { SqliteStore } from '../store/sqlite.js';
import { placementRules, RuleIndex } from './affinity.js';
import { planDrain, type DrainCandidate } from './drain.js';
import type { HostLoad } from './placement.js';
import { seededRng } from './random.js';
import { defaultRules } from './rules.js';
import { buildWorld, type WorldOptions } from './sim-world.js';

const S = 1000;
const timings: SimTimings = { boot: { mean: 80 * S, sd: 10 * S }, install: { mean: 442 * S, sd: 17 * S }, pxe: 10 * S, pxeLoop: 25 * S };

const host = (name: string, over: Partial<HostLoad> = {}): HostLoad => ({
  name, up: true, maintenance: false, loadFive: 0.5, loadThreshold: 4, vms: 0, usedCpus: 0, usedMemoryMb: 0, capacity: {}, ...over,
});
const vm = (name: string, over: Partial<DrainCandidate> = {}): DrainCandidate => ({ name, cpus: 1, memoryMb: 1024, priority: 0, phase: 'running', running: true, ...over });

describe('drain plan (pure)', () => {
  it('moves every running VM off the host, highest priority first, spread by the placement; never onto a host in maintenance', () => {
    const hosts = [host('hv1', { vms: 3 }), host('hv2'), host('hv3', { loadFive: 1 }), host('hv4', { maintenance: true, loadFive: 0 })];
    const p = planDrain('hv1', hosts, [vm('vm10'), vm('vm11', { priority: 5 }), vm('vm12', { running: false, phase: 'disabled' })], { live: true });
    assert.equal(p.blocked, null);
    assert.deepEqual(p.steps, [{ vm: 'vm11', to: 'hv2', how: 'live' }, { vm: 'vm10', to: 'hv3', how: 'live' }]);
    assert.deepEqual(p.idle, ['vm12']);
    assert.deepEqual(planDrain('hv1', hosts, [vm('vm10')], { live: false }).steps, [{ vm: 'vm10', to: 'hv2', how: 'cold' }]);
  });

  it('stops before moving anything when one VM has no room, and says which hosts refuse it and why', () => {
    const hosts = [host('hv1'), host('hv2', { capacity: { memoryMb: 3000 } }), host('hv3', { up: false })];
    const p = planDrain('hv1', hosts, [vm('vm10', { memoryMb: 2048 }), vm('vm11', { memoryMb: 2048 })], { live: true });
    assert.deepEqual(p.steps, []);
    assert.equal(p.blocked?.vm, 'vm11');
    assert.equal(p.blocked?.why, 'no hypervisor can take vm11: hv2 memory, hv3 down');
    assert.match(planDrain('hv1', [host('hv1')], [vm('vm10')], { live: true }).blocked!.why, /hv1 is the only hypervisor/);
  });

  it('the placement rules hold: strict anti-affinity and required hosts pick the destination, or stop the drain naming the rule', () => {
    const hosts = [host('hv1', { vms: 2 }), host('hv2', { vms: 1 }), host('hv3', { vms: 1, loadFive: 2 })];
    // db1 runs on hv2: db2 (hv1) must not join it, although hv2 is the least loaded.
    const where = new Map<string, string | null>([['db1', 'hv2'], ['db2', 'hv1'], ['app', 'hv1'], ['web', 'hv3']]);
    const rules = new RuleIndex(placementRules([{ kind: 'anti-affinity', strict: true, vms: ['db1', 'db2'] }], [{ name: 'app', hosts: ['hv1', 'hv3'] }]), where);
    const p = planDrain('hv1', hosts, [vm('db2'), vm('app')], { live: true, rules });
    assert.equal(p.blocked, null);
    assert.deepEqual(p.steps.map((x) => `${x.vm}->${x.to}`).sort(), ['app->hv3', 'db2->hv3']);
    // Without hv3, db2 has nowhere to go: the reason names the rule.
    const q = planDrain('hv1', hosts.slice(0, 2), [vm('db2')], { live: true, rules });
    assert.equal(q.blocked?.vm, 'db2');
    assert.match(q.blocked!.why, /anti-affinity with db1 on hv2/);
  });

  it('never touches a VM that HA is recovering', () => {
    const p = planDrain('hv1', [host('hv1'), host('hv2')], [vm('vm10'), vm('vm11', { phase: 'restarting' })], { live: true });
    assert.deepEqual(p.steps, []);
    assert.match(p.blocked!.why, /vm11 is restarting/);
  });
});

function opts(over: Partial<WorldOptions> = {}): WorldOptions {
  return {
    rng: seededRng(7), rules: defaultRules(), scanInterval: 10 * S, detectDelay: 0, timings, fence: true,
    hosts: [{ name: 'hv1', cpus: 8, memoryMb: 16384 }, { name: 'hv2', cpus: 8, memoryMb: 16384 }, { name: 'hv3', cpus: 8, memoryMb: 16384 }],
    vms: [{ name: 'vm10', host: 'hv1' }, { name: 'vm11', host: 'hv1', priority: 3 }, { name: 'vm12', host: 'hv2' }],
    ...over,
  };
}

describe('drain in the simulated cluster', () => {
  it('live: both VMs leave hv1 without a second of outage or a double start; HA then never places on hv1', async () => {
    const w = await buildWorld(opts({ hosts: ['hv1', 'hv2', 'hv3', 'hv4'].map((name) => ({ name, cpus: 8, memoryMb: 16384 })) }));
    await w.run(15 * S);
    const outages = () => ['vm10', 'vm11'].map((v) => w.sim.history(v).filter((h) => !h.up).length);
    const before = outages();
    const r = await w.controller.drain('hv1');
    assert.equal(r.stopped, null);
    assert.deepEqual(r.moved.map((m) => [m.vm, m.how]), [['vm11', 'live'], ['vm10', 'live']]);
    assert.deepEqual(outages(), before, 'the guests never stopped');
    assert.equal(w.sim.migrations, 2);
    assert.equal(w.sim.doubleStarts, 0);
    for (const v of ['vm10', 'vm11']) {
      assert.notEqual(w.sim.whereIs(v), 'hv1');
      assert.deepEqual([w.controller.state(v)!.phase, w.controller.state(v)!.host], ['running', w.sim.whereIs(v)]);
    }
    assert.deepEqual(w.controller.hosts().find((h) => h.name === 'hv1'), { name: 'hv1', maintenance: true, draining: false });
    // vm11's new host loses power: hv1, empty and least loaded, is in maintenance: vm11 goes elsewhere.
    await w.run(20 * S);
    const dead = w.sim.whereIs('vm11')!;
    w.sim.hostDown(dead);
    await w.run(300 * S);
    assert.equal(w.sim.serviceUp('vm11'), true);
    assert.deepEqual(w.sim.layout().filter(([h]) => h === 'hv1' || h === dead), []);
    assert.equal(w.sim.doubleStarts, 0);
    const steps = (await w.store.queryEvents({ kind: 'hypervisor.drain', host: 'hv1' })).map((e) => e.reason);
    assert.deepEqual(steps, ['planned', 'migrated', 'migrated', 'done']);
  });

  it('cold where the hypervisors cannot migrate: off first, then started elsewhere, and back up; 0 double starts', async () => {
    const w = await buildWorld(opts({ liveMigration: false }));
    await w.run(15 * S);
    const r = await w.controller.drain('hv1');
    assert.equal(r.stopped, null);
    assert.deepEqual(r.moved.map((m) => m.how), ['cold', 'cold']);
    assert.equal(w.sim.doubleStarts, 0);
    await w.run(200 * S);
    for (const v of ['vm10', 'vm11']) {
      assert.equal(w.sim.serviceUp(v), true);
      assert.notEqual(w.sim.whereIs(v), 'hv1');
      assert.equal(w.controller.state(v)!.phase, 'running');
    }
    assert.equal(w.sim.doubleStarts, 0);
  });

  it('a VM without room stops the drain with the reason; nothing moved, the host stays in maintenance', async () => {
    const w = await buildWorld(opts({ hosts: [{ name: 'hv1', cpus: 8, memoryMb: 16384 }, { name: 'hv2', cpus: 8, memoryMb: 16384, capacityVms: 2 }] }));
    await w.run(15 * S);
    const r = await w.controller.drain('hv1');
    assert.deepEqual(r.moved, []);
    assert.equal(r.stopped?.vm, 'vm10');
    assert.match(r.stopped!.why, /no hypervisor can take vm10: hv2 vms/);
    assert.equal(w.sim.whereIs('vm10'), 'hv1');
    assert.equal(w.controller.inMaintenance('hv1'), true);
    await assert.rejects(w.controller.drain('hv9'), { code: 'E_UNKNOWN_HOST' });
  });

  it('the maintenance flag survives a crash of 3rc (store reopened, new controller); undrain ends it durably', async () => {
    const dir = mkdtempSync(join(tmpdir(), '3rc-drain-'));
    try {
      const path = join(dir, 'state.db');
      let store = SqliteStore.open({ path });
      const w = await buildWorld(opts({ store }));
      await w.run(15 * S);
      await w.controller.drain('hv1');
      // kill -9 style: no stop(), timers dropped; only what the store acknowledged remains.
      w.controller.abandon();
      await store.close();
      store = SqliteStore.open({ path });
      const w2 = await buildWorld(opts({ store }));
      assert.equal(w2.controller.inMaintenance('hv1'), true);
      assert.equal(w2.controller.inMaintenance('hv2'), false);
      await w2.controller.setMaintenance('hv1', false, 'undrain');
      w2.controller.abandon();
      await store.close();
      store = SqliteStore.open({ path });
      const w3 = await buildWorld(opts({ store }));
      assert.equal(w3.controller.inMaintenance('hv1'), false);
      w3.controller.abandon();
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a VM held by a drain when 3rc died is found where it runs and given back to HA', async () => {
    const w = await buildWorld(opts());
    await w.run(15 * S);
    // The drain held vm10 and migrated it; 3rc died before recording the move.
    await w.controller.inject('vm10', { type: 'drain', op: 'hold' });
    await w.sim.migrate('hv1', 'vm10', 'hv3');
    assert.equal(w.controller.state('vm10')!.phase, 'disabled');
    w.controller.abandon();
    const c = await w.restartController();
    await c.idle();
    assert.deepEqual([c.state('vm10')!.phase, c.state('vm10')!.host], ['running', 'hv3']);
    await w.run(60 * S);
    assert.equal(w.sim.doubleStarts, 0);
    assert.equal(w.sim.whereIs('vm10'), 'hv3');
  });
});
