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
