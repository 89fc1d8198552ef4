import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeClock } from '../lib/clock.js';
import { seededRng } from '../ha/random.js';
import { runDriverContract } from './contract.js';
import { SimCluster, type SimTimings } from './sim.js';

const S = 1000;
const timings: SimTimings = { boot: { mean: 80 * S, sd: 10 * S }, install: { mean: 442 * S, sd: 17 * S }, pxe: 10 * S, pxeLoop: 25 * S };

function cluster(opts: { bmc?: boolean; bootMode?: Map<string, 'local' | 'install'>; liveMigration?: boolean } = {}) {
  const clock = new FakeClock(0);
  const pxe: string[] = [];
  const installed: string[] = [];
  const modes = opts.bootMode ?? new Map<string, 'local' | 'install'>();
  const sim = new SimCluster({
    clock, rng: seededRng(1), timings, ...(opts.liveMigration === undefined ? {} : { liveMigration: opts.liveMigration }),
    hosts: [{ name: 'hv1', cpus: 8, memoryMb: 16384 }, { name: 'hv2', cpus: 8, memoryMb: 16384, bmc: opts.bmc ?? true }],
    vms: [{ name: 'vm10', mac: '52:54:00:77:00:10', host: 'hv1' }, { name: 'vm11', mac: '52:54:00:77:00:11', host: 'hv2' }, { name: 'vm12', mac: '52:54:00:77:00:12', host: null }],
    hooks: {
      bootMode: (mac) => modes.get(mac) ?? 'local',
      onPxe: (vm, _mac, mode) => pxe.push(`${vm}@${clock.now() / S}:${mode}`),
      onInstalled: (vm, mac) => {
        installed.push(vm);
        modes.set(mac, 'local');
      },
    },
  });
  return { clock, sim, pxe, installed, modes };
}

runDriverContract('sim', {
  async make() {
    const { sim } = cluster();
    return { driver: sim, hosts: ['hv1', 'hv2'], vm: 'vm12', cut: (h) => sim.partition(h), migration: 'live' };
  },
});

runDriverContract('sim without live migration', {
  async make() {
    const { sim } = cluster({ liveMigration: false });
    return { driver: sim, hosts: ['hv1', 'hv2'], vm: 'vm12', cut: (h) => sim.partition(h), migration: 'unsupported' };
  },
});

describe('sim cluster: live migration', () => {
  it('moves the running guest as it is: its service never stops, no double start, its boot goes on', async () => {
    const { clock, sim } = cluster();
    assert.equal(sim.serviceUp('vm10'), true);
    const before = sim.history('vm10').length;
    await sim.migrate('hv1', 'vm10', 'hv2');
    assert.equal(sim.whereIs('vm10'), 'hv2');
    assert.equal(sim.copies('vm10'), 1);
    assert.equal(sim.serviceUp('vm10'), true);
    assert.equal(sim.history('vm10').length, before, 'no outage recorded');
    assert.equal(sim.doubleStarts, 0);
    assert.equal(sim.migrations, 1);
    // A guest still booting keeps booting on the new host and comes up there.
    await sim.start('hv1', 'vm12');
    await sim.migrate('hv1', 'vm12', 'hv2');
    assert.equal(sim.serviceUp('vm12'), false);
    clock.advance(200 * S);
    assert.equal(sim.serviceUp('vm12'), true);
    assert.equal(sim.whereIs('vm12'), 'hv2');
  });

  it('refuses an unreachable destination without touching the VM', async () => {
    const { sim } = cluster();
    sim.partition('hv2');
    await assert.rejects(sim.migrate('hv1', 'vm10', 'hv2'), { code: 'E_HV_UNREACHABLE' });
    assert.equal(sim.whereIs('vm10'), 'hv1');
  });
});

describe('sim cluster: faults and ground truth', () => {
  it('a hung guest is still running for the hypervisor, answers an ssh reboot, and is back after a boot', async () => {
    const { clock, sim } = cluster();
    sim.crash('vm10', 'hang');
    assert.equal(sim.serviceUp('vm10'), false);
    assert.equal(await sim.vmState('hv1', 'vm10'), 'running');
    assert.equal(await sim.reboot('vm10'), 'started');
    clock.advance(30 * S);
    assert.equal(sim.serviceUp('vm10'), false);
    clock.advance(120 * S);
    assert.equal(sim.serviceUp('vm10'), true);
    const h = sim.history('vm10');
    assert.equal(h.length, 3); // up at 0, down at crash, up after the boot
    assert.ok(h[2]!.at > 30 * S && h[2]!.at < 150 * S);
  });

  it('a halted guest is off for the hypervisor and unreachable by ssh', async () => {
    const { sim } = cluster();
    sim.crash('vm10', 'halt');
    assert.equal(await sim.vmState('hv1', 'vm10'), 'off');
    assert.equal(await sim.reboot('vm10'), 'unreachable');
    assert.equal(sim.copies('vm10'), 0);
  });

  it('a destroyed /boot loops on PXE with a local entry until the entry says install, then installs', async () => {
    const { clock, sim, pxe, installed, modes } = cluster();
    sim.crash('vm10', 'destructive');
    clock.advance(70 * S);
    assert.deepEqual(pxe, ['vm10@10:local', 'vm10@35:local', 'vm10@60:local']);
    assert.equal(await sim.reboot('vm10'), 'unreachable');
    // A reset alone does not help: the disk is still broken.
    await sim.reset('hv1', 'vm10');
    clock.advance(100 * S);
    assert.equal(sim.serviceUp('vm10'), false);
    modes.set('52:54:00:77:00:10', 'install');
    await sim.reset('hv1', 'vm10');
    clock.advance(400 * S);
    assert.equal(sim.serviceUp('vm10'), false);
    clock.advance(200 * S);
    assert.equal(sim.serviceUp('vm10'), true);
    assert.deepEqual(installed, ['vm10']);
  });

  it('host power loss kills its VMs; the fence reads it back off', async () => {
    const { sim } = cluster();
    sim.hostDown('hv1');
    assert.equal(sim.serviceUp('vm10'), false);
    assert.equal(sim.copies('vm10'), 0);
    assert.equal(await sim.reachable('hv1'), false);
    assert.equal(await sim.fence('hv1'), 'off');
  });

  it('a partition hides a running VM; starting it elsewhere is counted as a double start', async () => {
    const { sim } = cluster();
    sim.partition('hv1');
    assert.equal(sim.serviceUp('vm10'), false);
    assert.equal(sim.copies('vm10'), 1);
    await sim.start('hv2', 'vm10');
    assert.equal(sim.doubleStarts, 1);
    sim.heal('hv1');
    assert.equal(sim.copies('vm10'), 2);
  });

  it('fencing a partitioned host powers it off, so a start elsewhere is safe; without a BMC it cannot tell', async () => {
    const { sim } = cluster({ bmc: false });
    sim.partition('hv1');
    assert.equal(await sim.fence('hv1'), 'off');
    assert.equal(sim.copies('vm10'), 0);
    await sim.start('hv2', 'vm10');
    assert.equal(sim.doubleStarts, 0);
    sim.partition('hv2');
    assert.equal(await sim.fence('hv2'), 'unknown');
    assert.equal(sim.copies('vm11'), 1);
  });

  it('is deterministic for a seed', () => {
    const run = () => {
      const { clock, sim } = cluster();
      sim.crash('vm10', 'destructive');
      void sim.reset('hv1', 'vm10');
      clock.advance(1000 * S);
      return sim.history('vm10');
    };
    assert.deepEqual(run(), run());
  });
});
