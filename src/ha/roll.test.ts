import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterView } from './admission.js';
import { NO_RULES, placementRules } from './affinity.js';
import type { HostLoad } from './placement.js';
import type { ReinstallReport } from './reinstall-hv.js';
import { rollBlockers, runRoll, type RollProgress } from './roll.js';

const host = (name: string, vms: number, cpus = 4): HostLoad => ({ name, up: true, maintenance: false, loadFive: 0, loadThreshold: 4, vms, usedCpus: vms, usedMemoryMb: vms * 1024, capacity: { cpus } });

/** hv1 runs vm10 and vm11, hv2 runs vm12, hv3 nothing; 4 CPUs each, 1 CPU per VM. */
function cluster(over: Partial<ClusterView> = {}): ClusterView {
  return {
    hosts: [host('hv1', 2), host('hv2', 1), host('hv3', 0)],
    vms: [
      { name: 'vm10', host: 'hv1', cpus: 1, memoryMb: 1024, priority: 0 },
      { name: 'vm11', host: 'hv1', cpus: 1, memoryMb: 1024, priority: 0 },
      { name: 'vm12', host: 'hv2', cpus: 1, memoryMb: 1024, priority: 0 },
    ],
    rules: NO_RULES,
    ...over,
  };
}

const ok = (h: string): ReinstallReport => ({ host: h, steps: [], failed: null, ms: 0 });

describe('hv roll', () => {
  it('rollBlockers: room elsewhere -> none; no room -> the VMs, with the planner\'s reason', () => {
    assert.deepEqual(rollBlockers(cluster(), 'hv1'), []);
    const full = cluster({ hosts: [host('hv1', 2), host('hv2', 1, 1), host('hv3', 0, 1)] });
    const b = rollBlockers(full, 'hv1');
    assert.deepEqual(b.map((x) => x.vm), ['vm11']);
    assert.match(b[0]!.why, /out of CPUs/);
  });

  it('rollBlockers honours placement rules: a VM pinned to its host has nowhere to go', () => {
    const rules = placementRules([], [{ name: 'vm12', hosts: ['hv2'], hostsRequired: true }]);
    assert.deepEqual(rollBlockers(cluster({ rules }), 'hv1'), []);
    assert.deepEqual(rollBlockers(cluster({ rules }), 'hv2').map((x) => x.vm), ['vm12']);
  });

  it('reinstalls one host after the other; stops before a host whose drain would strand a VM, naming it', async () => {
    const rules = placementRules([], [{ name: 'vm12', hosts: ['hv2'], hostsRequired: true }]);
    const order: string[] = [];
    const seen: (string | null)[] = [];
    const p = await runRoll(['hv1', 'hv2', 'hv3'], {
      now: () => 7,
      view: () => cluster({ rules }),
      reinstall: async (h) => {
        order.push(h);
        return ok(h);
      },
      progress: (x: RollProgress) => seen.push(x.current),
    });
    assert.deepEqual(order, ['hv1'], 'hv2 never touched, hv3 never reached');
    assert.deepEqual(p.done, ['hv1']);
    assert.equal(p.stopped?.host, 'hv2');
    assert.deepEqual(p.stopped?.vms?.map((v) => v.vm), ['vm12']);
    assert.match(p.stopped!.why, /draining hv2 would leave 1 VM\(s\) without room: vm12/);
    assert.deepEqual(seen, ['hv1', 'hv1', 'hv2', null], 'at hv1, hv1 done, at hv2, over');
    assert.equal(p.current, null);
  });

  it('a failed reinstall stops the roll with its step and reason', async () => {
    const p = await runRoll(['hv3', 'hv2'], {
      now: () => 0,
      view: () => cluster(),
      reinstall: async (h) => ({ host: h, steps: [], failed: { step: 'install', why: 'install-done callback: not within 3600 s' }, ms: 0 }),
    });
    assert.deepEqual(p.done, []);
    assert.deepEqual(p.stopped, { host: 'hv3', why: 'reinstall failed at install: install-done callback: not within 3600 s' });
  });

  it('a cancel asked during a host lets it finish and stops before the next, which is not touched', async () => {
    const order: string[] = [];
    let progress: RollProgress | null = null;
    const p = await runRoll(['hv1', 'hv2', 'hv3'], {
      now: () => 0,
      view: () => cluster(),
      reinstall: async (h) => {
        order.push(h);
        progress!.cancelling = true;
        return ok(h);
      },
      progress: (x) => (progress = x),
    });
    assert.deepEqual(order, ['hv1']);
    assert.deepEqual(p.done, ['hv1']);
    assert.equal(p.stopped?.host, 'hv2');
    assert.equal(p.stopped?.cancelled, true);
    assert.match(p.stopped!.why, /cancelled by the operator after hv1: hv2 not touched/);
    assert.equal(p.current, null);
  });
});
