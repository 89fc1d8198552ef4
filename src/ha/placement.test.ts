import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { chooseHost, disqualified, planBatch, type HostLoad, type VmDemand } from './placement.js';

const host = (name: string, over: Partial<HostLoad> = {}): HostLoad => ({
  name, up: true, maintenance: false, loadFive: 1, loadThreshold: 4, vms: 2, usedCpus: 2, usedMemoryMb: 2048, capacity: {}, ...over,
});
const vm = (name: string, over: Partial<VmDemand> = {}): VmDemand => ({ name, cpus: 1, memoryMb: 1024, priority: 0, ...over });

describe('placement: which hosts qualify', () => {
  const rows: [string, Partial<HostLoad>, string | null][] = [
    ['a healthy host', {}, null],
    ['down', { up: false }, 'down'],
    ['in maintenance', { maintenance: true }, 'maintenance'],
    ['load at the threshold', { loadFive: 4 }, 'load'],
    ['load above the threshold', { loadFive: 9.5 }, 'load'],
    ['unknown load still qualifies', { loadFive: null }, null],
    ['VM count full', { vms: 4, capacity: { vms: 4 } }, 'vms'],
    ['CPUs full', { usedCpus: 8, capacity: { cpus: 8 } }, 'cpus'],
    ['CPUs exactly fit', { usedCpus: 7, capacity: { cpus: 8 } }, null],
    ['memory full', { usedMemoryMb: 4000, capacity: { memoryMb: 4096 } }, 'memory'],
  ];
  for (const [name, over, why] of rows) it(name, () => assert.equal(disqualified(host('h', over), vm('v')), why));
});

describe('placement: choosing one host', () => {
  it('takes the least loaded, then fewest VMs, then the name', () => {
    assert.equal(chooseHost([host('a', { loadFive: 2 }), host('b', { loadFive: 1 })], vm('v')), 'b');
    assert.equal(chooseHost([host('a', { vms: 3 }), host('b', { vms: 1 })], vm('v')), 'b');
    assert.equal(chooseHost([host('b'), host('a')], vm('v')), 'a');
    assert.equal(chooseHost([host('a', { loadFive: null }), host('b', { loadFive: 3 })], vm('v')), 'b');
  });
  it('returns null when nothing qualifies (the VM waits)', () => {
    assert.equal(chooseHost([host('a', { up: false }), host('b', { loadFive: 5 })], vm('v')), null);
    assert.equal(chooseHost([], vm('v')), null);
  });
  it('keeps the preferred host when it qualifies, counting the VM already there', () => {
    assert.equal(chooseHost([host('a', { loadFive: 3 }), host('b', { loadFive: 0 })], vm('v'), { prefer: 'a' }), 'a');
    // Full with the VM itself counted: still fine for a restart in place.
    assert.equal(chooseHost([host('a', { vms: 4, capacity: { vms: 4 } }), host('b')], vm('v'), { prefer: 'a' }), 'a');
  });
  it('moves away from a preferred host over its threshold (the paper\'s gridce example)', () => {
    assert.equal(chooseHost([host('alfa01', { loadFive: 6 }), host('alfa04', { loadFive: 0.5 })], vm('gridce'), { prefer: 'alfa01' }), 'alfa04');
  });
  it('never picks an avoided host', () => {
    assert.equal(chooseHost([host('a', { loadFive: 0 }), host('b', { loadFive: 2 })], vm('v'), { avoid: ['a'] }), 'b');
  });
});

describe('placement: a whole host failure', () => {
  it('spreads the VMs without overfilling and queues the rest by priority', () => {
    const hosts = [host('a', { vms: 0, usedCpus: 0, usedMemoryMb: 0, loadFive: 0, capacity: { vms: 2 } }), host('b', { vms: 0, usedCpus: 0, usedMemoryMb: 0, loadFive: 0, capacity: { vms: 1 } })];
    const vms = [vm('v1'), vm('v2', { priority: 5 }), vm('v3'), vm('v4', { priority: 9 })];
    const plan = planBatch(hosts, vms, { maxStartsPerHost: 10 });
    assert.deepEqual(plan.assignments, [{ vm: 'v4', host: 'a' }, { vm: 'v2', host: 'b' }, { vm: 'v1', host: 'a' }]);
    assert.deepEqual(plan.queued, [{ vm: 'v3', priority: 0, why: 'no-host', causes: ['vms'], reason: 'a, b at their VM limit' }]);
  });
  it('respects the per-host limit of concurrent starts, counting starts in flight', () => {
    const hosts = [host('a', { loadFive: 0 }), host('b', { loadFive: 0 })];
    const plan = planBatch(hosts, [vm('v1'), vm('v2'), vm('v3')], { maxStartsPerHost: 1, inFlight: new Map([['a', 1]]) });
    assert.deepEqual(plan.assignments, [{ vm: 'v1', host: 'b' }]);
    assert.deepEqual(plan.queued.map((q) => [q.vm, q.why]), [['v2', 'start-limit'], ['v3', 'start-limit']]);
  });
  it('adds load as it places so the plan spreads over equal hosts', () => {
    const hosts = ['a', 'b', 'c'].map((n) => host(n, { loadFive: 0, vms: 0 }));
    const plan = planBatch(hosts, ['v1', 'v2', 'v3'].map((n) => vm(n)), { maxStartsPerHost: 5 });
    assert.deepEqual(plan.assignments.map((a) => a.host).sort(), ['a', 'b', 'c']);
  });

  const hostArb = fc.record({
    name: fc.constantFrom('h0', 'h1', 'h2', 'h3', 'h4', 'h5'),
    up: fc.boolean(), maintenance: fc.boolean(),
    loadFive: fc.option(fc.double({ min: 0, max: 10, noNaN: true }), { nil: null }), loadThreshold: fc.double({ min: 0.5, max: 8, noNaN: true }),
    vms: fc.nat(6), usedCpus: fc.nat(16), usedMemoryMb: fc.nat(16384),
    capacity: fc.record({ cpus: fc.option(fc.integer({ min: 1, max: 32 }), { nil: undefined }), memoryMb: fc.option(fc.integer({ min: 1024, max: 32768 }), { nil: undefined }), vms: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }) }),
  });
  const hostsArb = fc.uniqueArray(hostArb, { selector: (h) => h.name, maxLength: 6 });
  const vmsArb = fc.uniqueArray(fc.record({ name: fc.string({ minLength: 1, maxLength: 4 }), cpus: fc.integer({ min: 1, max: 8 }), memoryMb: fc.integer({ min: 256, max: 8192 }), priority: fc.integer({ min: -5, max: 5 }) }), { selector: (v) => v.name, maxLength: 30 });

  it('property: never overfills a host, never exceeds the start limit, places or queues every VM once', () => {
    fc.assert(
      fc.property(hostsArb, vmsArb, fc.integer({ min: 1, max: 4 }), (hosts, vms, limit) => {
        const plan = planBatch(hosts, vms, { maxStartsPerHost: limit });
        assert.equal(plan.assignments.length + plan.queued.length, vms.length);
        assert.equal(new Set([...plan.assignments.map((a) => a.vm), ...plan.queued.map((q) => q.vm)]).size, vms.length);
        for (const h of hosts) {
          const placed = plan.assignments.filter((a) => a.host === h.name).map((a) => vms.find((v) => v.name === a.vm)!);
          assert.ok(placed.length <= limit);
          if (placed.length === 0) continue;
          assert.ok(h.up && !h.maintenance);
          const c = h.capacity;
          if (c.vms !== undefined) assert.ok(h.vms + placed.length <= c.vms);
          if (c.cpus !== undefined) assert.ok(h.usedCpus + placed.reduce((n, v) => n + v.cpus, 0) <= c.cpus);
          if (c.memoryMb !== undefined) assert.ok(h.usedMemoryMb + placed.reduce((n, v) => n + v.memoryMb, 0) <= c.memoryMb);
        }
        // Queued VMs come out highest priority first.
        for (let i = 1; i < plan.queued.length; i++) assert.ok(plan.queued[i - 1]!.priority >= plan.queued[i]!.priority);
      }),
      { numRuns: 300 },
    );
  });

  it('property: deterministic, whatever the input order', () => {
    fc.assert(
      fc.property(hostsArb, vmsArb, (hosts, vms) => {
        const a = planBatch(hosts, vms, { maxStartsPerHost: 2 });
        const b = planBatch([...hosts].reverse(), [...vms].reverse(), { maxStartsPerHost: 2 });
        assert.deepEqual(a, b);
      }),
      { numRuns: 300 },
    );
  });
});
