import { FakeClock } from '../lib/clock.js';
import { seededRng } from '../ha/random.js';
import { ByHostDriver } from './by-host.js';
import { runDriverContract } from './contract.js';
import { SimCluster } from './sim.js';

const S = 1000;

// Each host driven by its own simulated cluster: the router must keep the contract.
runDriverContract('by-host over two sim clusters', {
  async make() {
    const opts = (host: string) => ({
      clock: new FakeClock(0),
      rng: seededRng(1),
      timings: { boot: { mean: 80 * S, sd: 10 * S }, install: { mean: 442 * S, sd: 17 * S }, pxe: 10 * S, pxeLoop: 25 * S },
      hosts: [{ name: host, cpus: 8, memoryMb: 16384 }],
      vms: [{ name: 'vm1', mac: '52:54:00:00:00:01', host: null }],
    });
    const a = new SimCluster(opts('hv1'));
    const b = new SimCluster(opts('hv2'));
    return { driver: new ByHostDriver(new Map([['hv1', a], ['hv2', b]])), hosts: ['hv1', 'hv2'], vm: 'vm1', cut: (h) => (h === 'hv1' ? a : b).partition(h), migration: 'unsupported' };
  },
});

// Both hosts in one driver: a migration goes through to it.
runDriverContract('by-host over one sim cluster of two hosts', {
  async make() {
    const sim = new SimCluster({
      clock: new FakeClock(0),
      rng: seededRng(1),
      timings: { boot: { mean: 80 * S, sd: 10 * S }, install: { mean: 442 * S, sd: 17 * S }, pxe: 10 * S, pxeLoop: 25 * S },
      hosts: [{ name: 'hv1', cpus: 8, memoryMb: 16384 }, { name: 'hv2', cpus: 8, memoryMb: 16384 }],
      vms: [{ name: 'vm1', mac: '52:54:00:00:00:01', host: null }],
    });
    return { driver: new ByHostDriver(new Map([['hv1', sim], ['hv2', sim]])), hosts: ['hv1', 'hv2'], vm: 'vm1', cut: (h) => sim.partition(h), migration: 'live' };
  },
});
