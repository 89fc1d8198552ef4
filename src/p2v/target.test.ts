import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterView } from '../ha/admission.js';
import type { HostLoad } from '../ha/placement.js';
import { p2vTarget } from './target.js';

const host = (name: string, over: Partial<HostLoad> = {}): HostLoad => ({
  name, up: true, maintenance: false, loadFive: null, loadThreshold: 4, vms: 0, usedCpus: 0, usedMemoryMb: 0, capacity: { cpus: 8, memoryMb: 8192 }, ...over,
});
const vm = { name: 'p', cpus: 2, memoryMb: 2048, priority: 0 };

describe('p2vTarget', () => {
  const view = (groups: ClusterView['rules']['groups']): ClusterView => ({
    hosts: [host('hv1', { vms: 1, usedCpus: 1, usedMemoryMb: 1024 }), host('hv2'), host('hv3', { capacity: { memoryMb: 1024 } })],
    vms: [{ name: 'db1', host: 'hv1', cpus: 1, memoryMb: 1024, priority: 0 }],
    rules: { groups, vms: new Map() },
  });

  it('keeps the hypervisor asked for when the rules allow it', () => {
    assert.deepEqual(p2vTarget(view([]), vm, 'hv1', ['hv1', 'hv2', 'hv3']), { host: 'hv1', why: '' });
  });

  it('strict anti-affinity with a VM there: the planner picks another, among those the VM is defined on', () => {
    const v = view([{ kind: 'anti-affinity', strict: true, vms: ['p', 'db1'] }]);
    assert.deepEqual(p2vTarget(v, vm, 'hv1', ['hv1', 'hv2', 'hv3']), { host: 'hv2', why: 'hv1 refused: anti-affinity with db1 on hv1' });
    assert.deepEqual(p2vTarget(v, vm, 'hv1', ['hv1', 'hv3']), { host: null, why: 'anti-affinity with db1 on hv1; hv3 out of memory' });
  });

  it('required hosts, and the reserve', () => {
    assert.deepEqual(p2vTarget(view([]), { ...vm, hosts: ['hv3'] }, 'hv1', ['hv1', 'hv2', 'hv3']), { host: null, why: 'hv1 not in its hosts (hv3); hv2 not in its hosts (hv3); hv3 out of memory' });
    // Half of hv1's 8192 MiB kept free: 1024 used + 2048 fit in 4096. Three quarters: 2048 left, hv1 has no room, the empty hv2 has.
    assert.equal(p2vTarget(view([]), vm, 'hv1', ['hv1', 'hv2'], { cpuShare: 0, memoryShare: 0.5 }).host, 'hv1');
    assert.deepEqual(p2vTarget(view([]), vm, 'hv1', ['hv1', 'hv2'], { cpuShare: 0, memoryShare: 0.75 }), { host: 'hv2', why: 'hv1 refused: hv1 out of memory' });
    assert.deepEqual(p2vTarget(view([]), vm, 'hv1', ['hv1'], { cpuShare: 0, memoryShare: 0.75 }), { host: null, why: 'hv1 out of memory' });
  });
});
