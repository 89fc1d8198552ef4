/**
 * Placement rules, restart order and admission control through the real controller on the
 * simulated cluster (virtual clock, fixed seeds): what the rules promise holds when hosts die.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { SimTimings } from '../hypervisor/sim.js';
import { createMetrics } from '../lib/metrics.js';
import { admissionLine } from './admission.js';
import { registerAdmission } from './admission-metrics.js';
import type { RuleGroup } from './affinity.js';
import { seededRng } from './random.js';
import { defaultRules } from './rules.js';
import { buildWorld, type World, type WorldOptions } from './sim-world.js';
import { activeHa } from './view.js';

const S = 1000;
const TIMINGS: SimTimings = { boot: { mean: 80 * S, sd: 10 * S }, install: { mean: 442 * S, sd: 17 * S }, pxe: 10 * S, pxeLoop: 25 * S };

function world(o: Partial<WorldOptions> & Pick<WorldOptions, 'hosts' | 'vms'>, seed = 1): Promise<World> {
  return buildWorld({ rng: seededRng(seed), rules: defaultRules(), scanInterval: 10 * S, detectDelay: 0, timings: TIMINGS, fence: true, ...o });
}

/** When the VM's service first came back after `t`. */
const backAt = (w: World, vm: string, t: number) => w.sim.history(vm).find((h) => h.at > t && h.up)?.at;

describe('simulator: restart order', () => {
  it('a chain database -> application -> web restarts in that order after its host fails', async (t) => {
    const hosts = ['hv1', 'hv2', 'hv3'].map((name) => ({ name, cpus: 16, memoryMb: 65536, loadThreshold: 100 }));
    const vms = [
      { name: 'web', host: 'hv1', after: ['app'] },
      { name: 'app', host: 'hv1', after: ['db'] },
      { name: 'db', host: 'hv1' },
    ];
    const w = await world({ hosts, vms, restartOrder: { timeout: 600 * S, timeoutApplies: true } });
    await w.run(15 * S);
    const crash = w.clock.now();
    w.sim.hostDown('hv1');
    await w.run(1800 * S, () => vms.every((v) => backAt(w, v.name, crash) !== undefined));
    const back = Object.fromEntries(vms.map((v) => [v.name, backAt(w, v.name, crash)! - crash]));
    t.diagnostic(`recovery after the host failure: db ${(back.db! / S).toFixed(1)} s, app ${(back.app! / S).toFixed(1)} s, web ${(back.web! / S).toFixed(1)} s`);
    assert.ok(back.db! < back.app! && back.app! < back.web!, JSON.stringify(back));
    // Each started only once its dependency answered.
    const startOf = async (vm: string) => (await w.store.queryEvents({ vm, kind: 'ha.action' })).find((e) => e.at > crash && e.reason === 'start')!.at;
    assert.ok((await startOf('app')) >= back.db! + crash);
    assert.ok((await startOf('web')) >= back.app! + crash);
    w.controller.abandon();
  });

  it('the timeout lets a VM go when its dependency cannot come back; without it, it waits', async () => {
    const hosts = [{ name: 'hv1', cpus: 16, memoryMb: 65536, loadThreshold: 100 }, { name: 'hv2', cpus: 16, memoryMb: 65536, loadThreshold: 100 }];
    // db may only run on hv1: it cannot restart while hv1 is down.
    const vms = [{ name: 'db', host: 'hv1', hosts: ['hv1'] }, { name: 'app', host: 'hv1', after: ['db'] }];
    for (const timeoutApplies of [true, false]) {
      const w = await world({ hosts, vms, restartOrder: { timeout: 120 * S, timeoutApplies } });
      await w.run(15 * S);
      const crash = w.clock.now();
      w.sim.hostDown('hv1');
      await w.run(600 * S);
      const app = backAt(w, 'app', crash);
      if (timeoutApplies) assert.ok(app !== undefined && app - crash >= 120 * S, `app back at ${app}`);
      else {
        assert.equal(app, undefined);
        assert.match(w.controller.waiting().get('app') ?? '', /^after db \(not up yet\)$/);
      }
      assert.match(w.controller.waiting().get('db') ?? '', /hv2 not in its hosts \(hv1\)/);
      w.controller.abandon();
    }
  });
});

describe('simulator: rack failure with anti-affinity', () => {
  it('the replicas of a rack restart on distinct hosts, and admission said in advance what would not fit', async (t) => {
    const racks = { hv1: 'r1', hv2: 'r1', hv3: 'r2', hv4: 'r3' } as const;
    const hosts = Object.entries(racks).map(([name, rack]) => ({ name, rack, cpus: 16, memoryMb: 65536, loadThreshold: 100, capacityVms: 3 }));
    const vms = [
      { name: 'db1', host: 'hv1' }, { name: 'db2', host: 'hv2' }, { name: 'db3', host: 'hv3' },
      { name: 'web1', host: 'hv1' }, { name: 'web2', host: 'hv2' }, { name: 'web3', host: 'hv4' },
    ];
    const groups: RuleGroup[] = [{ kind: 'anti-affinity', strict: true, vms: ['db1', 'db2', 'db3'] }, { kind: 'anti-affinity', strict: false, vms: ['web1', 'web2', 'web3'] }];
    const w = await world({ hosts, vms, groups, admission: { domain: 'rack' } });
    await w.run(15 * S);
    const a = w.controller.admission()!;
    t.diagnostic(admissionLine(a));
    const r1 = a.failing.find((f) => f.label === 'rack r1');
    // db1 and db2 may not join db3 on hv3, nor each other: db1 takes hv4, db2 has no host when r1 dies.
    assert.deepEqual(r1?.stranded.map((s) => s.vm), ['db2']);
    assert.equal(r1!.stranded[0]!.reason, 'anti-affinity with db3 on hv3; anti-affinity with db1 on hv4');
    const crash = w.clock.now();
    w.sim.hostDown('hv1');
    w.sim.hostDown('hv2');
    await w.run(900 * S);
    const where = Object.fromEntries(vms.map((v) => [v.name, w.sim.whereIs(v.name)]));
    t.diagnostic(`after the rack failure: ${JSON.stringify(where)}; web1 back in ${((backAt(w, 'web1', crash)! - crash) / S).toFixed(1)} s`);
    assert.equal(where.db2, null, 'db2 waits: no host without another replica');
    assert.notEqual(where.db1, where.db3);
    assert.ok(where.db1 && where.web1 && where.web2);
    assert.equal(w.controller.state('db2')!.phase, 'waiting-for-host');
    w.controller.abandon();
  });
});

describe('admission: the answer is what the controller then does', () => {
  it('property: for a random cluster and rules, the VMs admission says would be stranded by a host failure are exactly those left waiting when it fails', async () => {
    const hostNames = ['hv1', 'hv2', 'hv3', 'hv4'];
    const vmNames = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const caseArb = fc.record({
      caps: fc.tuple(...hostNames.map(() => fc.integer({ min: 2, max: 4 }))),
      vms: fc.uniqueArray(fc.record({ name: fc.constantFrom(...vmNames), host: fc.constantFrom(...hostNames), priority: fc.integer({ min: 0, max: 2 }), memoryMb: fc.constantFrom(1024, 2048, 4096) }), { selector: (v) => v.name, minLength: 1, maxLength: 8 }),
      groups: fc.array(fc.record({ kind: fc.constantFrom('anti-affinity' as const, 'affinity' as const), strict: fc.boolean(), vms: fc.uniqueArray(fc.constantFrom(...vmNames), { minLength: 2, maxLength: 3 }) }), { maxLength: 3 }),
      failed: fc.constantFrom(...hostNames),
      seed: fc.integer({ min: 1, max: 1000 }),
    });
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        // At most 4 VMs on a host (the start limit), within its VM capacity.
        const count = new Map<string, number>();
        const vms = c.vms.filter((v) => {
          const n = (count.get(v.host) ?? 0) + 1;
          if (n > c.caps[hostNames.indexOf(v.host)]!) return false;
          count.set(v.host, n);
          return true;
        });
        const hosts = hostNames.map((name, i) => ({ name, cpus: 64, memoryMb: 8192, loadThreshold: 100, capacityVms: c.caps[i]! }));
        const w = await world({ hosts, vms, groups: c.groups }, c.seed);
        await w.run(15 * S);
        const plan = w.controller.whatIf([c.failed]);
        const said = w.controller.admission()!.failing.find((f) => f.label === c.failed)?.stranded.map((s) => s.vm).sort() ?? [];
        assert.deepEqual(plan.queued.map((q) => q.vm).sort(), said);
        w.sim.hostDown(c.failed);
        await w.run(900 * S);
        const victims = vms.filter((v) => v.host === c.failed).map((v) => v.name);
        const waiting = victims.filter((vm) => w.sim.whereIs(vm) === null).sort();
        assert.deepEqual(waiting, said, `planned ${JSON.stringify(plan)}`);
        for (const a of plan.assignments) assert.equal(w.sim.whereIs(a.vm), a.host, `${a.vm}: planned ${a.host}`);
        w.controller.abandon();
      }),
      { numRuns: 40, seed: 20261207 },
    );
  });
});

describe('admission: exposure', () => {
  it('after every pass: the view and the gauges answer, and a change is one ha.admission event', async () => {
    const hosts = ['hv1', 'hv2'].map((name) => ({ name, cpus: 16, memoryMb: 65536, loadThreshold: 100, capacityVms: 2 }));
    const w = await world({ hosts, vms: [{ name: 'a', host: 'hv1' }, { name: 'b', host: 'hv2' }] });
    const metrics = createMetrics({ defaults: false });
    const view = activeHa(w.controller);
    registerAdmission(metrics, () => view.admission?.() ?? null);
    await w.run(15 * S);
    assert.equal(view.admission?.()?.line, 'capacity: N+1 holds');
    assert.match(await metrics.registry.metrics(), /^threerc_ha_admission_holds 1$/m);
    assert.equal((await w.store.queryEvents({ kind: 'ha.admission' })).length, 0, 'holding from the start is no change');
    // hv2 dies: its VM restarts on hv1, and then nothing is left for hv1's own failure.
    w.sim.hostDown('hv2');
    await w.run(60 * S);
    assert.equal(w.sim.whereIs('b'), 'hv1');
    assert.equal(view.admission?.()?.line, 'capacity: N+1 does not hold: hv1 failure would leave a, b without room: down');
    const m = await metrics.registry.metrics();
    assert.match(m, /^threerc_ha_admission_holds 0$/m);
    assert.match(m, /^threerc_ha_admission_failing_cases 1$/m);
    assert.match(m, /^threerc_ha_admission_stranded_vms 2$/m);
    // One event per change of the answer, never one per pass.
    const events = await w.store.queryEvents({ kind: 'ha.admission' });
    assert.ok(events.length >= 1 && events.length <= 2, JSON.stringify(events.map((e) => e.data)));
    const lines = events.map((e) => (e.data as { line: string }).line);
    assert.equal(new Set(lines).size, lines.length);
    assert.equal(lines.at(-1), view.admission?.()?.line);
    assert.ok(events.every((e) => e.reason === 'fails'));
    w.controller.abandon();
  });
});
