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
import { buildWorld, type World } from '../src/ha/sim-world.js';
import { activeHa, inactiveHa, type HaView } from '../src/ha/view.js';
import { apiRouter } from '../src/http/api.js';
import type { AppDeps } from '../src/http/deps.js';
import { errorHandler } from '../src/http/errors.js';
import { DriverError, DriverErrorCodes } from '../src/hypervisor/driver.js';

const S = 1000;

async function serve(ha: HaView): Promise<{ url: string; server: http.Server }> {
  const app = express();
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
    w = await buildWorld({
      rng: seededRng(1), rules: defaultRules(), scanInterval: 10 * S, detectDelay: 0, fence: true,
      timings: { boot: { mean: 80 * S, sd: 10 * S }, install: { mean: 442 * S, sd: 17 * S }, pxe: 10 * S, pxeLoop: 25 * S },
      hosts: [{ name: 'hv1', cpus: 8, memoryMb: 16384 }, { name: 'hv2', cpus: 8, memoryMb: 16384 }],
      vms: [{ name: 'vm10', host: 'hv1' }, { name: 'vm11', host: 'hv1' }],
    });
    await w.run(15 * S);
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
    assert.match(bad.body.error.message, /drain or undrain/);
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
    const w = await buildWorld({
      rng: seededRng(2), rules: defaultRules(), scanInterval: 10 * S, detectDelay: 0, fence: true,
      timings: { boot: { mean: 80 * S, sd: 10 * S }, install: { mean: 442 * S, sd: 17 * S }, pxe: 10 * S, pxeLoop: 25 * S },
      hosts: [{ name: 'hv1', cpus: 8, memoryMb: 16384 }, { name: 'hv2', cpus: 8, memoryMb: 16384 }],
      vms: vms.map((v) => ({ ...v, host: 'hv1' })),
    });
    await w.run(15 * S);
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
