import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../lib/clock.js';
import { SimCluster } from '../hypervisor/sim.js';
import { PxeEvidence } from './evidence.js';
import { LiveMonitor } from './live-monitor.js';
import { seededRng } from './random.js';

describe('LiveMonitor: probes + hypervisor view + Ganglia + evidence', () => {
  const clock = new FakeClock(0);
  const sim = new SimCluster({
    clock, rng: seededRng(1), timings: { boot: { mean: 1, sd: 0 }, install: { mean: 1, sd: 0 }, pxe: 1, pxeLoop: 1 },
    hosts: [{ name: 'hv1', cpus: 4, memoryMb: 1024 }, { name: 'hv2', cpus: 4, memoryMb: 1024 }],
    vms: [{ name: 'vm10', mac: '52:54:00:00:00:10', host: 'hv1' }, { name: 'vm11', mac: '52:54:00:00:00:11', host: 'hv2' }],
  });
  const ports: Record<string, number> = { hv1: 1, hv2: 2, vm10: 3, vm11: 4 };
  const openPorts = new Set([1, 3]);
  const evidence = new PxeEvidence({ threshold: 2, window: 60_000 });

  const monitor = new LiveMonitor({
    clock, driver: sim, evidence,
    address: (n) => (n in ports ? { host: '127.0.0.1', port: ports[n]! } : undefined),
    probeAll: async (targets) => targets.map((t) => ({ open: openPorts.has(t.port), answered: openPorts.has(t.port) })),
    ganglia: async () => [{ name: 'hv1', ip: null, cluster: 'c', up: true, tn: 1, tmax: 20, reported: 0, loadFive: 0.7, cpuNum: 4 }],
  });

  it('combines the sources into one snapshot', async () => {
    sim.partition('hv2');
    evidence.record('vm11', 0, 'local');
    evidence.record('vm11', 0, 'local');
    const snap = await monitor.pass({ hosts: ['hv1', 'hv2'], vms: [{ name: 'vm10', host: 'hv1' }, { name: 'vm11', host: 'hv2' }, { name: 'vm99', host: null }] });
    assert.deepEqual(snap.hosts.get('hv1'), { up: true, loadFive: 0.7, cpuNum: 4 });
    assert.deepEqual(snap.hosts.get('hv2'), { up: false, loadFive: null, cpuNum: null });
    assert.deepEqual(snap.vms.get('vm10'), { up: true, power: 'on', pxeLoop: false });
    assert.deepEqual(snap.vms.get('vm11'), { up: false, power: 'unknown', pxeLoop: true });
    assert.deepEqual(snap.vms.get('vm99'), { up: false, power: 'unknown', pxeLoop: false });
  });

  it('forgets the PXE boots of a VM it sees answering (a healthy network-first boot is no loop)', async () => {
    evidence.record('vm10', clock.now(), 'local');
    evidence.record('vm10', clock.now(), 'local');
    assert.equal(evidence.looping('vm10', clock.now()), true);
    const snap = await monitor.pass({ hosts: ['hv1'], vms: [{ name: 'vm10', host: 'hv1' }] });
    assert.equal(snap.vms.get('vm10')!.pxeLoop, false);
    assert.equal(evidence.looping('vm10', clock.now()), false);
  });

  it('asks only the hypervisors whose SSH port answered (an unreachable one would stall the pass)', async () => {
    const asked: string[] = [];
    const list = sim.listVms.bind(sim);
    sim.listVms = async (h: string) => {
      asked.push(h);
      return list(h);
    };
    try {
      await monitor.pass({ hosts: ['hv1', 'hv2'], vms: [] });
    } finally {
      sim.listVms = list;
    }
    assert.deepEqual(asked, ['hv1']);
  });

  it('sees a halted VM as off through its hypervisor', async () => {
    sim.crash('vm10', 'halt');
    openPorts.delete(3);
    const r = await monitor.probe('vm10', 'hv1');
    assert.deepEqual(r, { vm: { up: false, power: 'off', pxeLoop: false }, hostUp: true });
  });
});
