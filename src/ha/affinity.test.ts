import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RuleIndex, type PlacementRules, type RuleGroup } from './affinity.js';
import { planBatch, type HostLoad, type PlanRequest } from './placement.js';
import { planFailure, prepare } from './admission.js';

const host = (name: string, over: Partial<HostLoad> = {}): HostLoad => ({
  name, up: true, maintenance: false, loadFive: 0, loadThreshold: 4, vms: 0, usedCpus: 0, usedMemoryMb: 0, capacity: {}, ...over,
});
const req = (name: string, over: Partial<PlanRequest> = {}): PlanRequest => ({ name, cpus: 1, memoryMb: 1024, priority: 0, ...over });
const rules = (groups: RuleGroup[], vms: [string, { hosts: string[]; hostsRequired?: boolean }][] = []): PlacementRules => ({ groups, vms: new Map(vms) });
const index = (r: PlacementRules, where: Record<string, string> = {}) => new RuleIndex(r, new Map(Object.entries(where)));

describe('placement rules', () => {
  it('strict anti-affinity: the VM waits, and the reason names the rule and the other blocks', () => {
    const r = index(rules([{ kind: 'anti-affinity', strict: true, vms: ['db1', 'db2'] }]), { db2: 'hv2' });
    const plan = planBatch([host('hv1', { loadFive: 9 }), host('hv2'), host('hv3', { up: false })], [req('db1', { avoid: ['hv3'] })], { maxStartsPerHost: 4, rules: r });
    assert.deepEqual(plan.assignments, []);
    assert.equal(plan.queued[0]!.reason, 'anti-affinity with db2 on hv2; hv1 over its load threshold');
    assert.deepEqual(plan.queued[0]!.causes, ['anti-affinity', 'load']);
  });

  it('strict anti-affinity holds among the VMs of one batch', () => {
    const r = index(rules([{ kind: 'anti-affinity', strict: true, vms: ['a', 'b', 'c'] }]));
    const plan = planBatch([host('hv1'), host('hv2')], [req('a'), req('b'), req('c')], { maxStartsPerHost: 4, rules: r });
    assert.deepEqual(plan.assignments.map((x) => x.host).sort(), ['hv1', 'hv2']);
    assert.equal(plan.queued.length, 1);
    assert.match(plan.queued[0]!.reason, /^anti-affinity with . on hv1; anti-affinity with . on hv2$/);
  });

  it('soft anti-affinity spreads when it can and restarts anyway when it cannot', () => {
    const r = index(rules([{ kind: 'anti-affinity', strict: false, vms: ['a', 'b'] }]), { b: 'hv1' });
    // hv1 is less loaded, but b runs there.
    assert.equal(planBatch([host('hv1', { loadFive: 0 }), host('hv2', { loadFive: 3 })], [req('a')], { maxStartsPerHost: 4, rules: r }).assignments[0]!.host, 'hv2');
    assert.equal(planBatch([host('hv1'), host('hv2', { up: false })], [req('a')], { maxStartsPerHost: 4, rules: r }).assignments[0]!.host, 'hv1');
  });

  it('strict affinity keeps a VM with its group, and says where the group is', () => {
    const r = index(rules([{ kind: 'affinity', strict: true, vms: ['app', 'cache'] }]), { cache: 'hv2' });
    assert.equal(planBatch([host('hv1'), host('hv2', { loadFive: 3 })], [req('app')], { maxStartsPerHost: 4, rules: r }).assignments[0]!.host, 'hv2');
    const full = planBatch([host('hv1'), host('hv2', { loadFive: 5 })], [req('app')], { maxStartsPerHost: 4, rules: r });
    assert.equal(full.queued[0]!.reason, 'affinity with cache on hv2; hv2 over its load threshold');
  });

  it('affinity within a batch: the later member follows the first', () => {
    const r = index(rules([{ kind: 'affinity', strict: true, vms: ['x', 'y'] }]));
    const plan = planBatch([host('hv1'), host('hv2')], [req('x', { priority: 1 }), req('y')], { maxStartsPerHost: 4, rules: r });
    assert.equal(plan.assignments[0]!.host, plan.assignments[1]!.host);
  });

  it('hosts required refuses others; preferred only orders them', () => {
    const req1 = index(rules([], [['lic', { hosts: ['hv2'] }]]));
    const p1 = planBatch([host('hv1'), host('hv2', { maintenance: true })], [req('lic')], { maxStartsPerHost: 4, rules: req1 });
    assert.equal(p1.queued[0]!.reason, 'hv1 not in its hosts (hv2); hv2 in maintenance');
    const pref = index(rules([], [['lic', { hosts: ['hv2'], hostsRequired: false }]]));
    assert.equal(planBatch([host('hv1'), host('hv2', { loadFive: 3 })], [req('lic')], { maxStartsPerHost: 4, rules: pref }).assignments[0]!.host, 'hv2');
    assert.equal(planBatch([host('hv1'), host('hv2', { up: false })], [req('lic')], { maxStartsPerHost: 4, rules: pref }).assignments[0]!.host, 'hv1');
  });

  it('restart order: held until the dependency is ready, or released by its timeout', () => {
    const after = new Map([['app', ['db']]]);
    const hosts = [host('hv1'), host('hv2')];
    const held = planBatch(hosts, [req('db'), req('app')], { maxStartsPerHost: 4, order: { after, ready: () => false, released: new Set() } });
    assert.deepEqual(held.assignments.map((a) => a.vm), ['db']);
    assert.deepEqual(held.queued.map((q) => [q.vm, q.why, q.reason]), [['app', 'order', 'after db (not up yet)']]);
    assert.equal(planBatch(hosts, [req('app')], { maxStartsPerHost: 4, order: { after, ready: (v) => v === 'db', released: new Set() } }).assignments.length, 1);
    assert.equal(planBatch(hosts, [req('app')], { maxStartsPerHost: 4, order: { after, ready: () => false, released: new Set(['app']) } }).assignments.length, 1);
  });

  it('a reserve keeps a share of capacity free for placements that are not restarts', () => {
    const hosts = [host('hv1', { usedMemoryMb: 6000, capacity: { memoryMb: 8192 } })];
    assert.equal(planBatch(hosts, [req('v')], { maxStartsPerHost: 4 }).assignments.length, 1);
    assert.deepEqual(planBatch(hosts, [req('v')], { maxStartsPerHost: 4, reserve: { cpuShare: 0, memoryShare: 0.25 } }).queued[0]!.causes, ['memory']);
  });
});

describe('placement rules: properties', () => {
  const names = ['v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8', 'v9'];
  const hostNames = ['h0', 'h1', 'h2', 'h3', 'h4'];
  const hostArb = fc.record({
    name: fc.constantFrom(...hostNames), up: fc.boolean(), maintenance: fc.constant(false),
    loadFive: fc.option(fc.double({ min: 0, max: 6, noNaN: true }), { nil: null }), loadThreshold: fc.constant(4),
    vms: fc.nat(3), usedCpus: fc.nat(8), usedMemoryMb: fc.nat(4096),
    capacity: fc.record({ cpus: fc.option(fc.integer({ min: 4, max: 16 }), { nil: undefined }), memoryMb: fc.option(fc.integer({ min: 4096, max: 16384 }), { nil: undefined }), vms: fc.option(fc.integer({ min: 2, max: 8 }), { nil: undefined }) }),
  });
  const groupArb = fc.record({ kind: fc.constantFrom('anti-affinity' as const, 'affinity' as const), strict: fc.boolean(), vms: fc.uniqueArray(fc.constantFrom(...names), { minLength: 2, maxLength: 4 }) });
  const caseArb = fc.record({
    hosts: fc.uniqueArray(hostArb, { selector: (h) => h.name, minLength: 1, maxLength: 5 }),
    batch: fc.uniqueArray(fc.record({ name: fc.constantFrom(...names), cpus: fc.integer({ min: 1, max: 4 }), memoryMb: fc.integer({ min: 256, max: 4096 }), priority: fc.integer({ min: 0, max: 3 }) }), { selector: (v) => v.name, maxLength: 10 }),
    /** Where VMs outside the batch run. */
    where: fc.dictionary(fc.constantFrom(...names), fc.constantFrom(...hostNames), { maxKeys: 6 }),
    groups: fc.array(groupArb, { maxLength: 4 }),
    nodes: fc.dictionary(fc.constantFrom(...names), fc.record({ hosts: fc.uniqueArray(fc.constantFrom(...hostNames), { minLength: 1, maxLength: 3 }), hostsRequired: fc.boolean() }), { maxKeys: 4 }),
    limit: fc.integer({ min: 1, max: 3 }),
  });

  it('property: the fast planner (named hosts plus the best of the rest) gives the plan of the exhaustive one', () => {
    const extraArb = fc.record({
      prefer: fc.dictionary(fc.constantFrom(...names), fc.constantFrom(...hostNames), { maxKeys: 5 }),
      avoid: fc.dictionary(fc.constantFrom(...names), fc.uniqueArray(fc.constantFrom(...hostNames), { maxLength: 2 }), { maxKeys: 5 }),
      sharedAvoid: fc.uniqueArray(fc.constantFrom(...hostNames), { maxLength: 2 }),
      reserve: fc.option(fc.record({ cpuShare: fc.constantFrom(0, 0.25, 0.5), memoryShare: fc.constantFrom(0, 0.25, 0.5) }), { nil: undefined }),
      shuffle: fc.boolean(),
    });
    fc.assert(
      fc.property(caseArb, extraArb, (c, x) => {
        const batchNames = new Set(c.batch.map((v) => v.name));
        const where = new Map(Object.entries(c.where).filter(([vm]) => !batchNames.has(vm)));
        const r: PlacementRules = { groups: c.groups, vms: new Map(Object.entries(c.nodes)) };
        // A shared avoid list (one array for the whole batch, as a failure plan has) or one per VM.
        const batch: PlanRequest[] = c.batch.map((v) => ({ ...v, prefer: x.prefer[v.name] ?? null, avoid: x.avoid[v.name] ?? x.sharedAvoid }));
        const hosts = x.shuffle ? [...c.hosts].reverse() : c.hosts;
        const opts = { maxStartsPerHost: c.limit, ...(x.reserve ? { reserve: x.reserve } : {}) };
        const fast = planBatch(hosts, batch, { ...opts, rules: new RuleIndex(r, where) });
        const exhaustive = planBatch(hosts, batch, { ...opts, rules: new RuleIndex(r, where), exhaustive: true });
        assert.deepEqual(fast, exhaustive);
      }),
      { numRuns: 1500 },
    );
  });

  it('property: admission plans (hosts indexed once) equal the exhaustive planner plans, failure case by failure case', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const r: PlacementRules = { groups: c.groups, vms: new Map(Object.entries(c.nodes)) };
        const vms = c.batch.map((v, i) => ({ ...v, host: c.where[v.name] ?? c.hosts[i % c.hosts.length]!.name }));
        const prepared = prepare({ hosts: c.hosts, vms, rules: r });
        for (const h of c.hosts) assert.deepEqual(planFailure(prepared, [h.name]), planFailure(prepared, [h.name], { exhaustive: true }));
        const all = c.hosts.map((h) => h.name);
        assert.deepEqual(planFailure(prepared, all.slice(0, 2)), planFailure(prepared, all.slice(0, 2), { exhaustive: true }));
      }),
      { numRuns: 500 },
    );
  });

  it('property: no plan breaks a strict rule (batch moves included), capacity and start limits hold', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const batchNames = new Set(c.batch.map((v) => v.name));
        const where = new Map(Object.entries(c.where).filter(([vm]) => !batchNames.has(vm)));
        const r: PlacementRules = { groups: c.groups, vms: new Map(Object.entries(c.nodes)) };
        const plan = planBatch(c.hosts, c.batch, { maxStartsPerHost: c.limit, rules: new RuleIndex(r, where) });
        const final = new Map(where);
        for (const a of plan.assignments) final.set(a.vm, a.host);
        for (const g of c.groups.filter((x) => x.strict)) {
          for (const a of plan.assignments.filter((x) => g.vms.includes(x.vm))) {
            const others = g.vms.filter((m) => m !== a.vm && final.has(m));
            if (g.kind === 'anti-affinity') for (const m of others) assert.notEqual(final.get(m), a.host, `strict anti-affinity ${g.vms.join(',')}: ${a.vm} and ${m} both on ${a.host}`);
            // Strict affinity: placed with a member placed or running before it (one of them, when the group is already split).
            else if (others.length > 0) {
              const before = others.filter((m) => where.has(m) || plan.assignments.findIndex((x) => x.vm === m) < plan.assignments.indexOf(a));
              if (before.length > 0) assert.ok(before.some((m) => final.get(m) === a.host), `strict affinity ${g.vms.join(',')}: ${a.vm} on ${a.host} away from ${before.join(',')}`);
            }
          }
        }
        for (const a of plan.assignments) {
          const n = c.nodes[a.vm];
          if (n && n.hostsRequired) assert.ok(n.hosts.includes(a.host));
        }
        for (const h of c.hosts) {
          const placed = plan.assignments.filter((a) => a.host === h.name).map((a) => c.batch.find((v) => v.name === a.vm)!);
          assert.ok(placed.length <= c.limit);
          if (placed.length === 0) continue;
          assert.ok(h.up);
          if (h.capacity.vms !== undefined) assert.ok(h.vms + placed.length <= h.capacity.vms);
          if (h.capacity.cpus !== undefined) assert.ok(h.usedCpus + placed.reduce((s, v) => s + v.cpus, 0) <= h.capacity.cpus);
          if (h.capacity.memoryMb !== undefined) assert.ok(h.usedMemoryMb + placed.reduce((s, v) => s + v.memoryMb, 0) <= h.capacity.memoryMb);
        }
        assert.equal(plan.assignments.length + plan.queued.length, c.batch.length);
      }),
      { numRuns: 500 },
    );
  });

  it('property: order constraints hold: no VM is placed before a dependency that is not ready, unless released', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.constantFrom(...names), { minLength: 1, maxLength: 10 }),
        fc.array(fc.tuple(fc.constantFrom(...names), fc.constantFrom(...names)), { maxLength: 10 }),
        fc.uniqueArray(fc.constantFrom(...names), { maxLength: 10 }),
        fc.uniqueArray(fc.constantFrom(...names), { maxLength: 3 }),
        (batch, edges, ready, released) => {
          const after = new Map<string, string[]>();
          for (const [b, a] of edges) if (a !== b) after.set(b, [...(after.get(b) ?? []), a]);
          const plan = planBatch([host('h0'), host('h1')], batch.map((n) => req(n)), { maxStartsPerHost: 100, order: { after, ready: (v) => ready.includes(v), released: new Set(released) } });
          for (const a of plan.assignments) {
            if (released.includes(a.vm)) continue;
            for (const d of after.get(a.vm) ?? []) assert.ok(ready.includes(d), `${a.vm} placed before ${d} was ready`);
          }
          for (const q of plan.queued) if (q.why === 'order') assert.ok(!released.includes(q.vm));
        },
      ),
      { numRuns: 300 },
    );
  });
});
