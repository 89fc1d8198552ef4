import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DriverError, DriverErrorCodes } from '../hypervisor/driver.js';
import type { SimTimings } from '../hypervisor/sim.js';
import { MemoryStore } from '../store/memory.js';
import type { Store } from '../store/store.js';
import { seededRng } from './random.js';
import { defaultRules, paperRules } from './rules.js';
import { buildWorld, type WorldOptions } from './sim-world.js';

const S = 1000;
const timings: SimTimings = { boot: { mean: 80 * S, sd: 10 * S }, install: { mean: 442 * S, sd: 17 * S }, pxe: 10 * S, pxeLoop: 25 * S };

function opts(over: Partial<WorldOptions> = {}): WorldOptions {
  return {
    rng: seededRng(3), rules: defaultRules(), scanInterval: 10 * S, detectDelay: 0, timings, fence: true,
    hosts: [{ name: 'hv1', cpus: 8, memoryMb: 16384 }, { name: 'hv2', cpus: 8, memoryMb: 16384 }, { name: 'hv3', cpus: 8, memoryMb: 16384 }],
    vms: [{ name: 'vm10', host: 'hv1' }, { name: 'vm11', host: 'hv1' }, { name: 'vm12', host: 'hv2' }],
    ...over,
  };
}

async function log(store: Store, vm: string, kind = 'ha.transition'): Promise<string[]> {
  return (await store.queryEvents({ vm, kind })).map((e) => e.reason ?? '');
}

/** Runs the clock while an action of the current controller hangs: its idle() never resolves. */
async function runPastHungAction(w: Awaited<ReturnType<typeof buildWorld>>, ms: number): Promise<void> {
  const c = w.controller;
  await w.clock.runUntil(w.clock.now() + ms, () => Promise.race([c.idle(), new Promise<void>((r) => setImmediate(r))]));
}

describe('HA controller against the simulated cluster', () => {
  it('recovers a hung guest with the reboot rung and records every decision', async () => {
    const w = await buildWorld(opts());
    await w.run(15 * S);
    w.sim.crash('vm10', 'hang');
    await w.run(200 * S);
    assert.equal(w.sim.serviceUp('vm10'), true);
    assert.equal(w.controller.state('vm10')!.phase, 'running');
    assert.deepEqual(await log(w.store, 'vm10'), ['probe-failed', 'confirmed-down', 'reboot-sent', 'recovered']);
    const [stored] = (await w.store.listVmStates()).filter((s) => s.vm === 'vm10');
    assert.equal(stored!.state, 'running');
    assert.deepEqual(await log(w.store, 'vm10', 'ha.action'), ['reboot']);
    assert.deepEqual(await log(w.store, 'vm11'), []);
  });

  it('restarts a halted guest in place without trying ssh (the hypervisor says it is off)', async () => {
    const w = await buildWorld(opts());
    await w.run(15 * S);
    w.sim.crash('vm10', 'halt');
    await w.run(200 * S);
    assert.equal(w.sim.serviceUp('vm10'), true);
    assert.equal(w.sim.whereIs('vm10'), 'hv1');
    assert.deepEqual(await log(w.store, 'vm10', 'ha.action'), ['place', 'reset']);
    assert.ok((await log(w.store, 'vm10')).includes('vm-powered-off'));
  });

  it('reinstalls at once on PXE-loop evidence (destroyed /boot) and the VM comes back', async () => {
    const w = await buildWorld(opts());
    await w.run(15 * S);
    w.sim.crash('vm10', 'destructive');
    await w.run(700 * S);
    assert.equal(w.sim.serviceUp('vm10'), true);
    assert.deepEqual(w.installs, [w.macOf('vm10')]);
    const reasons = await log(w.store, 'vm10');
    assert.ok(reasons.includes('pxe-loop'), reasons.join(','));
    assert.ok(!reasons.includes('t2-expired'), 'evidence must skip the T1/T2 waits');
    assert.equal(w.modes.get(w.macOf('vm10')), 'local', 'the install-done callback set it back to local');
  });

  it('quarantines instead of reinstalling a VM with reinstall disabled', async () => {
    const w = await buildWorld(opts({ vms: [{ name: 'vm10', host: 'hv1', reinstall: false }, { name: 'vm11', host: 'hv2' }] }));
    await w.run(15 * S);
    w.sim.crash('vm10', 'destructive');
    await w.run(700 * S);
    assert.equal(w.controller.state('vm10')!.phase, 'quarantined');
    assert.equal(w.controller.state('vm10')!.reason, 'reinstall-disabled');
    assert.deepEqual(w.installs, []);
  });

  it('moves the VMs of a dead hypervisor elsewhere, after fencing, with no double start', async () => {
    const w = await buildWorld(opts());
    await w.run(15 * S);
    w.sim.hostDown('hv1');
    await w.run(300 * S);
    for (const vm of ['vm10', 'vm11']) {
      assert.equal(w.sim.serviceUp(vm), true, vm);
      assert.notEqual(w.sim.whereIs(vm), 'hv1');
      const reasons = await log(w.store, vm);
      assert.ok(reasons.includes('hypervisor-down'), reasons.join(','));
      assert.ok(!reasons.includes('reboot-sent'), 'reboot rung skipped');
      assert.ok(reasons.includes('fence-required') && reasons.includes('old-copy-off'), reasons.join(','));
    }
    assert.equal(w.sim.doubleStarts, 0);
  });

  it('fences a hypervisor the last pass saw down with its fence command at once, without trying its ssh first', async () => {
    const w = await buildWorld(opts());
    await w.run(15 * S);
    const asked: string[] = [];
    const vmState = w.sim.vmState.bind(w.sim);
    w.sim.vmState = (host, vm) => {
      asked.push(host);
      return vmState(host, vm);
    };
    w.sim.hostDown('hv1');
    await w.run(300 * S);
    assert.equal(w.sim.serviceUp('vm10'), true);
    assert.notEqual(w.sim.whereIs('vm10'), 'hv1');
    assert.ok((await log(w.store, 'vm10')).includes('old-copy-off'));
    assert.deepEqual(asked.filter((h) => h === 'hv1'), [], 'no hypervisor command to the dead host');
    // The fence's outcome records why it went straight to the fence command (the lab checks this).
    const fenced = (await w.store.queryEvents({ vm: 'vm10', kind: 'ha.done' })).find((e) => (e.data as { action?: string }).action === 'fence');
    assert.match(String((fenced?.data as { detail?: string }).detail), /^fence read back hv1 off \(hv1 was down in the last pass\)$/);
  });

  it('the fence outcome says how the host was fenced when the fencer tells (its BMC)', async () => {
    const w = await buildWorld(opts());
    Object.assign(w.sim, { via: (host: string) => (host === 'hv1' ? 'its BMC (ipmi)' : undefined) });
    await w.run(15 * S);
    w.sim.hostDown('hv1');
    await w.run(300 * S);
    const fenced = (await w.store.queryEvents({ vm: 'vm10', kind: 'ha.done' })).find((e) => (e.data as { action?: string }).action === 'fence');
    assert.match(String((fenced?.data as { detail?: string }).detail), /^fence through its BMC \(ipmi\) read back hv1 off \(hv1 was down in the last pass\)$/);
  });

  it('an installer that reports failure moves the reinstall to another host at once (after a fence)', async () => {
    const w = await buildWorld(opts());
    await w.run(15 * S);
    w.sim.crash('vm10', 'destructive');
    await w.run(300 * S, () => w.controller.state('vm10')!.phase === 'reinstalling');
    assert.equal(w.controller.state('vm10')!.phase, 'reinstalling');
    const t0 = w.clock.now();
    await w.controller.installFailed('vm10', 'installer: no disk');
    await w.run(700 * S, () => w.sim.serviceUp('vm10'));
    assert.equal(w.sim.serviceUp('vm10'), true);
    assert.notEqual(w.sim.whereIs('vm10'), 'hv1', 'not again on the host where the install failed');
    assert.ok(w.clock.now() - t0 < 600 * S, 'well before the 30 min install timeout');
    const reasons = await log(w.store, 'vm10');
    assert.ok(reasons.includes('install-failed') && reasons.includes('fence-required'), reasons.join(','));
    assert.equal(w.sim.doubleStarts, 0);
  });

  it('an installer that reports failure twice quarantines the VM at once', async () => {
    const w = await buildWorld(opts({ rules: defaultRules({ installRetries: 0 }) }));
    await w.run(15 * S);
    w.sim.crash('vm10', 'destructive');
    await w.run(300 * S, () => w.controller.state('vm10')!.phase === 'reinstalling');
    await w.controller.installFailed('vm10');
    assert.equal(w.controller.state('vm10')!.phase, 'quarantined');
    assert.equal(w.controller.state('vm10')!.reason, 'install-failed');
  });

  it('waits in fence-pending with the reason visible while a partitioned host cannot be fenced, then resumes when it heals', async () => {
    const w = await buildWorld(opts({ fence: false }));
    await w.run(15 * S);
    w.sim.partition('hv1');
    await w.run(600 * S);
    const st = w.controller.status().find((s) => s.vm === 'vm10')!;
    assert.equal(st.state, 'fence-pending');
    assert.equal(st.reason, 'fence-failed');
    assert.equal(w.sim.copies('vm10'), 1);
    assert.equal(w.sim.doubleStarts, 0);
    // Heal just before the next fence retry: the retry reaches the hypervisor before any
    // monitoring pass has seen the VM answer again. It must leave the healthy copy alone.
    const retryAt = w.controller.state('vm10')!.timer!.at;
    await w.run(retryAt - 1 - w.clock.now());
    w.sim.heal('hv1');
    const healedAt = w.clock.now();
    await w.run(30 * S);
    assert.equal(w.controller.state('vm10')!.phase, 'running');
    assert.equal(w.sim.doubleStarts, 0);
    assert.deepEqual(w.sim.history('vm10').filter((h) => h.at >= healedAt && !h.up), [], 'the healed copy was never taken down');
    assert.equal(w.sim.whereIs('vm10'), 'hv1');
  });

  it('the paper rules start elsewhere without fencing: a partition then runs the VM twice', async () => {
    const w = await buildWorld(opts({ fence: false, rules: paperRules(), scanInterval: 60 * S }));
    await w.run(65 * S);
    w.sim.partition('hv1');
    await w.run(900 * S);
    assert.ok(w.sim.doubleStarts > 0, 'this is why 3rc fences');
  });

  it('quarantines after the recovery budget, and an operator clear releases it', async () => {
    const w = await buildWorld(opts({ rules: defaultRules({ budget: { recoveries: 2, window: 3600 * S } }) }));
    await w.run(15 * S);
    for (let i = 0; i < 3; i++) {
      w.sim.crash('vm10', 'hang');
      await w.run(200 * S);
    }
    assert.equal(w.controller.state('vm10')!.phase, 'quarantined');
    assert.equal(w.controller.state('vm10')!.reason, 'budget-exhausted');
    assert.equal(w.controller.status().find((s) => s.vm === 'vm10')!.recoveriesUsed, 2);
    await w.controller.operator('vm10', 'clear');
    await w.run(200 * S);
    assert.equal(w.controller.state('vm10')!.phase, 'running');
    assert.equal(w.sim.serviceUp('vm10'), true);
  });

  it('pauses during a monitoring blackout: no action while most hypervisors are unreachable', async () => {
    const w = await buildWorld(opts());
    await w.run(15 * S);
    w.sim.partition('hv1');
    w.sim.partition('hv2');
    await w.run(300 * S);
    assert.deepEqual(await log(w.store, 'vm10', 'ha.action'), []);
    assert.ok((await log(w.store, 'vm10')).includes('monitoring-blackout'));
    assert.equal(w.sim.doubleStarts, 0);
    w.sim.heal('hv1');
    w.sim.heal('hv2');
    await w.run(30 * S);
    assert.equal(w.controller.state('vm10')!.phase, 'running');
  });

  it('a blackout in force when the controller died is lifted after the restart', async () => {
    const w = await buildWorld(opts());
    await w.run(15 * S);
    w.sim.partition('hv1');
    w.sim.partition('hv2');
    await w.run(30 * S);
    assert.equal(w.controller.state('vm10')!.paused, true);
    w.controller.abandon();
    w.sim.heal('hv1');
    w.sim.heal('hv2');
    await w.restartController();
    await w.run(30 * S);
    assert.equal(w.controller.state('vm10')!.paused, false);
    w.sim.crash('vm12', 'hang');
    await w.run(200 * S);
    assert.equal(w.sim.serviceUp('vm12'), true, 'automatic action works again');
  });

  it('a disabled VM is left alone', async () => {
    const w = await buildWorld(opts());
    await w.controller.operator('vm10', 'disable');
    w.sim.crash('vm10', 'hang');
    await w.run(300 * S);
    assert.deepEqual(await log(w.store, 'vm10', 'ha.action'), []);
    assert.equal(w.controller.status().find((s) => s.vm === 'vm10')!.state, 'disabled');
  });

  it('copies that booted where a start and a reset timed out are no PXE-loop evidence against the copy started after them (lab: start-timeout)', async () => {
    // The lab's VMs try the network first: every boot is a DHCP DISCOVER answered "boot local".
    const w = await buildWorld(opts({ networkFirst: true }));
    await w.run(15 * S);
    // hv1 is sick: its virsh start, then its virsh reset, time out, but libvirtd does both: the
    // VM boots there twice (one PXE request each), never coming up before 3rc gives up on hv1.
    let hv1Timeouts = 0;
    for (const op of ['start', 'reset'] as const) {
      const real = w.sim[op].bind(w.sim);
      w.sim[op] = async (host, vm) => {
        await real(host, vm);
        if (host !== 'hv1' || hv1Timeouts >= 2) return;
        hv1Timeouts += 1;
        throw new DriverError(DriverErrorCodes.UNKNOWN_OUTCOME, host, `virsh ${op} ${vm} timed out`);
      };
    }
    // As in the lab, hv1 is over its load threshold once both timed out, so the retry goes elsewhere.
    const metrics = w.sim.hostMetrics.bind(w.sim);
    w.sim.hostMetrics = (host) => {
      const m = metrics(host);
      return m && host === 'hv1' && hv1Timeouts >= 2 ? { ...m, loadFive: 100 } : m;
    };
    w.sim.crash('vm10', 'halt');
    await w.run(600 * S);
    const actions = (await w.store.queryEvents({ vm: 'vm10', kind: 'ha.action' })).map((e) => `${e.reason}${(e.data as { host?: string }).host ? ` ${(e.data as { host?: string }).host}` : ''}`);
    const reasons = await log(w.store, 'vm10');
    assert.equal(hv1Timeouts, 2, actions.join(', '));
    assert.equal(w.sim.serviceUp('vm10'), true);
    assert.notEqual(w.sim.whereIs('vm10'), 'hv1', actions.join(', '));
    assert.ok(!reasons.includes('pxe-loop'), `a healthy VM was taken for a PXE loop: ${reasons.join(', ')}; actions ${actions.join(', ')}`);
    assert.deepEqual(w.installs, [], 'no reinstall of a healthy VM');
    assert.equal(w.sim.doubleStarts, 0);
  });

  it('resumes after a crash of the controller without repeating completed actions', async () => {
    const store = new MemoryStore();
    const w = await buildWorld(opts({ store, rules: paperRules({ t1: 60 * S, t2: 60 * S }), scanInterval: 10 * S }));
    await w.run(15 * S);
    w.sim.crash('vm10', 'destructive');
    // Detected, reboot issued and done, waiting in T1.
    await w.run(40 * S);
    assert.equal(w.controller.state('vm10')!.phase, 'rebooting');
    const before = await store.queryEvents({ vm: 'vm10', kind: 'ha.action' });
    w.controller.abandon(); // the process dies: nothing more is written
    await w.restartController();
    await w.run(900 * S);
    assert.equal(w.sim.serviceUp('vm10'), true);
    const actions = await store.queryEvents({ vm: 'vm10', kind: 'ha.action' });
    const ids = actions.map((e) => (e.data as { id: string }).id);
    assert.equal(new Set(ids).size, ids.length, 'an action id was issued twice');
    assert.deepEqual(actions.map((e) => e.reason), ['reboot', 'place', 'reset', 'reinstall']);
    assert.equal(actions.filter((e) => e.reason === 'reboot').length, before.filter((e) => e.reason === 'reboot').length);
    assert.deepEqual(w.installs, [w.macOf('vm10')]);
  });

  it('resumes an unfinished start: not repeated when the VM already runs on its target', async () => {
    const store = new MemoryStore();
    const w = await buildWorld(opts({ store }));
    await w.run(15 * S);
    // Make the start "hang" in flight: the driver call never resolves in the first controller.
    const realStart = w.sim.start.bind(w.sim);
    let started = 0;
    w.sim.start = async (host, vm) => {
      started += 1;
      await realStart(host, vm);
      return new Promise<void>(() => undefined);
    };
    w.sim.hostDown('hv1');
    await runPastHungAction(w, 40 * S);
    assert.equal(w.controller.state('vm10')!.pending?.kind, 'start');
    w.controller.abandon();
    w.sim.start = async (host, vm) => {
      started += 1;
      return realStart(host, vm);
    };
    const startsBefore = started;
    await w.restartController();
    await w.run(300 * S);
    assert.equal(started, startsBefore, 'the start that reached the hypervisor was not repeated');
    assert.equal(w.sim.serviceUp('vm10'), true);
    assert.equal(w.sim.doubleStarts, 0);
    const done = (await store.queryEvents({ vm: 'vm10', kind: 'ha.done' })).map((e) => (e.data as { detail?: string }).detail ?? '');
    assert.ok(done.some((d) => /already running .*not repeated/.test(d)), done.join(' | '));
  });

  it('resumes an unfinished reset: re-issued when the VM is off on its host (the virsh never ran)', async () => {
    const store = new MemoryStore();
    const w = await buildWorld(opts({ store }));
    await w.run(15 * S);
    // 3rc dies while its power-on of the halted VM is on its way: it never reaches the hypervisor.
    const realStart = w.sim.start.bind(w.sim);
    let started = 0;
    w.sim.start = () => new Promise<void>(() => undefined);
    w.sim.crash('vm10', 'halt');
    await runPastHungAction(w, 30 * S);
    assert.equal(w.controller.state('vm10')!.pending?.kind, 'reset');
    w.controller.abandon();
    w.sim.start = async (host, vm) => {
      started += 1;
      return realStart(host, vm);
    };
    await w.restartController();
    await w.run(150 * S);
    assert.equal(started, 1, 'the power-on that never happened was issued once after the restart');
    assert.equal(w.sim.serviceUp('vm10'), true);
    assert.equal(w.controller.state('vm10')!.phase, 'running', 'back before T2, not escalated to a reinstall');
    assert.deepEqual(await log(store, 'vm10', 'ha.action'), ['place', 'reset']);
  });
});
