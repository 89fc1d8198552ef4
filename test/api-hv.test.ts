/**
 * `3rc hv drain|undrain` through the API: token checked, 4xx with the reason for bad input, and a
 * drain of a simulated cluster's hypervisor answered with its report.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { formatDrain } from '../src/cli/commands/hv.js';
import { seededRng } from '../src/ha/random.js';
import { defaultRules } from '../src/ha/rules.js';
import { buildWorld, type World, type WorldVm } from '../src/ha/sim-world.js';
import { activeHa, inactiveHa, type HaView } from '../src/ha/view.js';
import { apiRouter } from '../src/http/api.js';
import type { AppDeps } from '../src/http/deps.js';
import { errorHandler } from '../src/http/errors.js';
import { DriverError, DriverErrorCodes } from '../src/hypervisor/driver.js';
import { formatRoll } from '../src/cli/commands/hv.js';
import { HypervisorOps } from '../src/ha/hv-ops.js';
import { Inventory, type Hypervisor } from '../src/inventory/inventory.js';
import { silentLogger } from '../src/lib/log.js';
import type { RollProgress } from '../src/ha/roll.js';

const S = 1000;

/** A simulated hv1 and hv2 (8 CPUs each unless said), the VMs on their hosts, 15 s on. */
async function world(seed: number, vms: WorldVm[], hv2Cpus = 8): Promise<World> {
  const w = await buildWorld({
    rng: seededRng(seed), rules: defaultRules(), scanInterval: 10 * S, detectDelay: 0, fence: true,
    timings: { boot: { mean: 80 * S, sd: 10 * S }, install: { mean: 442 * S, sd: 17 * S }, pxe: 10 * S, pxeLoop: 25 * S },
    hosts: [{ name: 'hv1', cpus: 8, memoryMb: 16384 }, { name: 'hv2', cpus: hv2Cpus, memoryMb: 16384 }],
    vms,
  });
  await w.run(15 * S);
  return w;
}

async function serve(ha: HaView): Promise<{ url: string; server: http.Server }> {
  const app = express();
  app.use(express.json());
  app.use('/api/v1', apiRouter({ ha, apiToken: 't' } as unknown as AppDeps));
  app.use(errorHandler);
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

describe('API: hypervisor drain and undrain', () => {
  let w: World;
  let url: string;
  let server: http.Server;
  const post = async (p: string, token: string | null = 't') => {
    const r = await fetch(`${url}${p}`, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: r.status, body: (await r.json()) as any };
  };

  before(async () => {
    w = await world(1, [{ name: 'vm10', host: 'hv1' }, { name: 'vm11', host: 'hv1' }]);
    ({ url, server } = await serve(activeHa(w.controller)));
  });
  after(async () => {
    w.controller.abandon();
    await close(server);
  });

  it('refuses without the token, and answers 4xx with the reason for a bad operation, name or unknown hypervisor', async () => {
    assert.equal((await post('/api/v1/hv/hv1/drain', null)).status, 401);
    assert.equal((await post('/api/v1/hv/hv1/drain', 'wrong')).status, 403);
    const bad = await post('/api/v1/hv/hv1/reboot');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /drain, undrain or reinstall/);
    assert.equal((await post('/api/v1/hv/-x-/drain')).status, 400);
    const unknown = await post('/api/v1/hv/hv9/drain');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error.message, /hv9 is not a hypervisor/);
    assert.equal(w.controller.inMaintenance('hv1'), false, 'nothing changed');
  });

  it('drains hv1: both VMs moved live, hv1 in maintenance; undrain ends it', async () => {
    const r = await post('/api/v1/hv/hv1/drain');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.moved.map((m: { vm: string; to: string; how: string }) => [m.vm, m.to, m.how]), [['vm10', 'hv2', 'live'], ['vm11', 'hv2', 'live']]);
    assert.equal(r.body.stopped, null);
    assert.match(formatDrain(r.body).join('\n'), /hv1: in maintenance; 2 VM\(s\) moved[\s\S]*vm10\s+hv2\s+live/);
    const list = (await (await fetch(`${url}/api/v1/hv`)).json()) as { hypervisors: { name: string; maintenance: boolean }[] };
    assert.deepEqual(list.hypervisors.map((h) => [h.name, h.maintenance]), [['hv1', true], ['hv2', false]]);
    const u = await post('/api/v1/hv/hv1/undrain');
    assert.equal(u.status, 200);
    assert.deepEqual(u.body, { name: 'hv1', maintenance: false, draining: false });
    assert.equal(w.sim.doubleStarts, 0);
  });

  it('answers 409 when the HA controller does not run', async () => {
    const s = await serve(inactiveHa('ha.enabled is false in the config'));
    try {
      const r = await fetch(`${s.url}/api/v1/hv/hv1/drain`, { method: 'POST', headers: { authorization: 'Bearer t' } });
      assert.equal(r.status, 409);
    } finally {
      await close(s.server);
    }
  });
});

describe('drain: a live migration that fails', () => {
  /** hv1 with vm10 and vm11, whose live migrations fail and leave the VM on hv1 (as virsh does when the copy aborts). */
  async function failingWorld(vms: { name: string; coldMove?: boolean }[]): Promise<World> {
    const w = await world(2, vms.map((v) => ({ ...v, host: 'hv1' })));
    w.sim.migrate = async (host: string, vm: string) => {
      throw new DriverError(DriverErrorCodes.FAILED, host, `migration of ${vm} aborted: Unable to read from monitor`);
    };
    return w;
  }

  it('falls back to a cold move (stop here, start there) when the VM allows it, with the reason in the report', async () => {
    const w = await failingWorld([{ name: 'vm10' }]);
    try {
      const r = await w.controller.drain('hv1');
      assert.equal(r.stopped, null);
      assert.deepEqual(r.moved.map((m) => [m.vm, m.to, m.how]), [['vm10', 'hv2', 'cold']]);
      assert.match(r.moved[0]!.fallback ?? '', /live migration of vm10 to hv2 failed \(migration of vm10 aborted: Unable to read from monitor\); it still ran on hv1: moved cold/);
      assert.match(formatDrain(r).join('\n'), /vm10: live migration of vm10 to hv2 failed/);
      assert.equal(await w.sim.vmState('hv2', 'vm10'), 'running');
      assert.equal(await w.sim.vmState('hv1', 'vm10'), 'off');
      const ev = (await w.store.queryEvents({ kind: 'hypervisor.drain', vm: 'vm10' })).map((e) => [e.reason, e.data?.detail]);
      assert.ok(ev.some(([reason, detail]) => reason === 'moved' && /failed/.test(String(detail))), JSON.stringify(ev));
      assert.equal(w.sim.doubleStarts, 0);
    } finally {
      w.controller.abandon();
    }
  });

  it('stops the drain at a VM whose policy forbids a cold move (hosts[].coldMove false): it keeps running where it was', async () => {
    const w = await failingWorld([{ name: 'vm10', coldMove: false }]);
    try {
      const r = await w.controller.drain('hv1');
      assert.deepEqual(r.moved, []);
      assert.equal(r.stopped?.vm, 'vm10');
      assert.match(r.stopped!.why, /live migration of vm10 to hv2 failed .*it runs on hv1 \(vm10 may not move cold: hosts\[\]\.coldMove is false\)/);
      assert.equal(await w.sim.vmState('hv1', 'vm10'), 'running');
    } finally {
      w.controller.abandon();
    }
  });
});

describe('API: hv roll and hv reinstall', () => {
  let w: World;
  let url: string;
  let server: http.Server;
  const post = async (p: string, body?: unknown, token: string | null = 't') => {
    const r = await fetch(`${url}${p}`, { method: 'POST', headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
    return { status: r.status, body: (await r.json()) as any };
  };
  const hv = (name: string, address: string, mac?: string): Hypervisor => ({ name, address, driver: 'libvirt', ssh: { user: 'root', port: 22 }, loadThreshold: 4, maintenance: false, migrateFlags: [], capacity: {}, boot: 'local', vars: {}, ...(mac ? { mac, profile: 'debian12' } : {}) });

  before(async () => {
    // hv2 has room for one VM only: draining hv1 (vm10, vm11) would leave one without room.
    w = await world(3, [{ name: 'vm10', host: 'hv1' }, { name: 'vm11', host: 'hv1' }], 1);
    const inventory = new Inventory([], [{ name: 'debian12', installer: 'preseed', kernel: 'k', initrd: 'i', kernelArgs: '', vars: {} }], [hv('hv1', '10.77.0.2', '52:54:00:77:00:02'), hv('hv2', '10.77.0.3', '52:54:00:77:00:03'), hv('hv3', '10.77.0.4')]);
    const ops = new HypervisorOps({
      controller: w.controller, driver: w.sim, inventory, bmc: () => null, store: w.store, clock: w.clock, log: silentLogger,
      bootTable: { get: () => undefined, setInstall: async () => { throw new Error('not reached'); } },
    });
    ({ url, server } = await serve(activeHa(w.controller, ops)));
  });
  after(async () => {
    w.controller.abandon();
    await close(server);
  });

  it('refuses without the token, a body naming neither hosts nor all, and a hypervisor 3rc cannot install', async () => {
    assert.equal((await post('/api/v1/hv/roll', { all: true }, null)).status, 401);
    assert.equal((await post('/api/v1/hv/roll', {})).status, 400);
    const hv3 = await post('/api/v1/hv/roll', { hosts: ['hv3'] });
    assert.equal(hv3.status, 400);
    assert.match(hv3.body.error.message, /hv3 has no mac and profile/);
    assert.equal((await post('/api/v1/hv/hv9/reinstall')).status, 404);
  });

  it('roll: stops before draining a host whose VMs would be left without room, naming them; nothing moved', async () => {
    const r = await post('/api/v1/hv/roll', { hosts: ['hv1', 'hv2'] });
    assert.equal(r.status, 202);
    let p: RollProgress = r.body;
    while (p.endedAt === null) p = (await (await fetch(`${url}/api/v1/hv/roll`)).json()) as RollProgress;
    assert.equal(p.stopped?.host, 'hv1');
    assert.deepEqual(p.stopped?.vms?.map((v) => v.vm), ['vm11']);
    assert.match(p.stopped!.vms![0]!.why, /out of CPUs/);
    assert.match(formatRoll(p), /^roll stopped at hv1: draining hv1 would leave 1 VM\(s\) without room: vm11; 0\/2 reinstalled\n {2}vm11: /);
    assert.equal(w.controller.inMaintenance('hv1'), false, 'the roll never drained hv1');
    const list = (await (await fetch(`${url}/api/v1/hv`)).json()) as { roll: RollProgress };
    assert.equal(list.roll.stopped?.host, 'hv1');
  });

  it('roll cancel and resume: 409 with no roll running; resume of the stopped roll checks hv1 again; another op is 400', async () => {
    const c = await post('/api/v1/hv/roll/cancel');
    assert.equal(c.status, 409);
    assert.match(c.body.error.message, /no roll runs/);
    assert.equal((await post('/api/v1/hv/roll/resume', {}, null)).status, 401);
    const r = await post('/api/v1/hv/roll/resume');
    assert.equal(r.status, 202);
    let p: RollProgress = r.body;
    while (p.endedAt === null) p = (await (await fetch(`${url}/api/v1/hv/roll`)).json()) as RollProgress;
    assert.equal(p.stopped?.host, 'hv1', 'still no room for vm11');
    assert.equal((await post('/api/v1/hv/roll/pause')).status, 400);
  });

  it('reinstall of a hypervisor without a BMC: refused at the pxe step before anything changed, shown in GET /hv', async () => {
    const r = await post('/api/v1/hv/hv2/reinstall');
    assert.equal(r.status, 200);
    assert.equal(r.body.failed.step, 'pxe');
    assert.match(r.body.failed.why, /hv2 has no bmc/);
    assert.equal(w.controller.inMaintenance('hv2'), false);
    const list = (await (await fetch(`${url}/api/v1/hv`)).json()) as { reinstalls: { host: string; state: string; step: string }[] };
    assert.deepEqual(list.reinstalls.map((x) => [x.host, x.state, x.step]), [['hv2', 'failed', 'pxe']]);
    const ev = await w.store.queryEvents({ kind: 'hypervisor.drain', host: 'hv2' });
    assert.deepEqual(ev.map((e) => e.reason), ['reinstall-pxe-failed']);
  });
});
