/**
 * The one test suite every HypervisorDriver must pass (sim here; libvirt and command against
 * real hypervisors in their own issue). `make` returns a driver that knows two reachable hosts
 * and one VM defined on the first, powered off; `cut`, when given, makes a host unreachable.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { DriverErrorCodes, type HypervisorDriver } from './driver.js';

export interface DriverFixture {
  driver: HypervisorDriver;
  hosts: [string, string];
  vm: string;
  cut?(host: string): Promise<void> | void;
  /**
   * Live migration between the two hosts: `live` (it must work), `unsupported` (it must answer
   * MIGRATION_UNSUPPORTED), or a reason why this harness cannot try it. Default: either answer.
   */
  migration?: 'live' | 'unsupported' | { skip: string };
  close?(): Promise<void> | void;
}

export interface DriverHarness {
  make(): Promise<DriverFixture>;
}

export function runDriverContract(name: string, h: DriverHarness): void {
  describe(`HypervisorDriver contract: ${name}`, () => {
    const withFixture = (fn: (f: DriverFixture, t: TestContext) => Promise<void>) => async (t: TestContext) => {
      const f = await h.make();
      try {
        await fn(f, t);
      } finally {
        await f.close?.();
      }
    };

    it('reports both hosts reachable', withFixture(async ({ driver, hosts }) => {
      assert.equal(await driver.reachable(hosts[0]), true);
      assert.equal(await driver.reachable(hosts[1]), true);
    }));

    it('lists the defined VM as off', withFixture(async ({ driver, hosts, vm }) => {
      const list = await driver.listVms(hosts[0]);
      assert.deepEqual(list.find((v) => v.name === vm), { name: vm, state: 'off' });
      assert.equal(await driver.vmState(hosts[0], vm), 'off');
    }));

    it('starts a VM once; a second start on the same host is ALREADY_RUNNING', withFixture(async ({ driver, hosts, vm }) => {
      await driver.start(hosts[0], vm);
      assert.equal(await driver.vmState(hosts[0], vm), 'running');
      assert.deepEqual((await driver.listVms(hosts[0])).find((v) => v.name === vm)?.state, 'running');
      await assert.rejects(driver.start(hosts[0], vm), { code: DriverErrorCodes.ALREADY_RUNNING });
    }));

    it('resets a running VM and keeps it running', withFixture(async ({ driver, hosts, vm }) => {
      await driver.start(hosts[0], vm);
      await driver.reset(hosts[0], vm);
      assert.equal(await driver.vmState(hosts[0], vm), 'running');
    }));

    it('destroys idempotently; a reset of a VM that is off is NOT_RUNNING', withFixture(async ({ driver, hosts, vm }) => {
      await driver.start(hosts[0], vm);
      await driver.destroy(hosts[0], vm);
      assert.equal(await driver.vmState(hosts[0], vm), 'off');
      await driver.destroy(hosts[0], vm);
      await assert.rejects(driver.reset(hosts[0], vm), { code: DriverErrorCodes.NOT_RUNNING });
    }));

    it('refuses to migrate a VM that is off (NOT_RUNNING, or MIGRATION_UNSUPPORTED) and starts nothing', withFixture(async ({ driver, hosts, vm, migration }) => {
      const codes = migration === 'unsupported' ? [DriverErrorCodes.MIGRATION_UNSUPPORTED] : migration === 'live' ? [DriverErrorCodes.NOT_RUNNING] : [DriverErrorCodes.NOT_RUNNING, DriverErrorCodes.MIGRATION_UNSUPPORTED];
      await assert.rejects(driver.migrate(hosts[0], vm, hosts[1]), (err: { code?: string }) => codes.includes(err.code as never));
      assert.equal(await driver.vmState(hosts[0], vm), 'off');
      assert.notEqual((await driver.listVms(hosts[1])).find((v) => v.name === vm)?.state, 'running');
    }));

    it('migrates a running VM live: it then runs on the destination only (or MIGRATION_UNSUPPORTED leaves it where it was)', withFixture(async ({ driver, hosts, vm, migration }, t) => {
      if (typeof migration === 'object') return void t.skip(migration.skip);
      await driver.start(hosts[0], vm);
      let moved = true;
      try {
        await driver.migrate(hosts[0], vm, hosts[1]);
      } catch (err) {
        if ((err as { code?: string }).code !== DriverErrorCodes.MIGRATION_UNSUPPORTED || migration === 'live') throw err;
        moved = false;
      }
      assert.ok(moved || migration !== 'live');
      assert.ok(!moved || migration !== 'unsupported', 'a driver declared unable to migrate did migrate');
      const running = async (h: string) => (await driver.listVms(h)).find((v) => v.name === vm)?.state === 'running';
      assert.deepEqual([await running(hosts[0]), await running(hosts[1])], moved ? [false, true] : [true, false]);
      if (!moved) return;
      // Back again: it already runs on the destination of a second move there.
      await assert.rejects(driver.migrate(hosts[0], vm, hosts[1]), { code: DriverErrorCodes.NOT_RUNNING });
      await driver.migrate(hosts[1], vm, hosts[0]);
      assert.deepEqual([await running(hosts[0]), await running(hosts[1])], [true, false]);
      await driver.destroy(hosts[0], vm);
    }));

    it('answers NO_SUCH_VM for a VM it does not know', withFixture(async ({ driver, hosts }) => {
      await assert.rejects(driver.vmState(hosts[0], 'no-such-vm-3rc'), { code: DriverErrorCodes.NO_SUCH_VM });
      await assert.rejects(driver.start(hosts[0], 'no-such-vm-3rc'), { code: DriverErrorCodes.NO_SUCH_VM });
    }));

    it('answers UNREACHABLE for an unknown host, and reachable() says false', withFixture(async ({ driver }) => {
      assert.equal(await driver.reachable('no-such-host-3rc'), false);
      await assert.rejects(driver.listVms('no-such-host-3rc'), { code: DriverErrorCodes.UNREACHABLE });
    }));

    it('answers UNREACHABLE for a host that was cut off', withFixture(async (f, t) => {
      if (!f.cut) return void t.skip(`the ${name} harness cannot cut a host off`);
      await f.cut(f.hosts[1]);
      assert.equal(await f.driver.reachable(f.hosts[1]), false);
      await assert.rejects(f.driver.listVms(f.hosts[1]), { code: DriverErrorCodes.UNREACHABLE });
      await assert.rejects(f.driver.start(f.hosts[1], f.vm), { code: DriverErrorCodes.UNREACHABLE });
      assert.equal(await f.driver.reachable(f.hosts[0]), true);
    }));
  });
}
