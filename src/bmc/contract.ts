/**
 * The one test suite every BmcDriver passes: the fake here, IPMI against ipmi_sim and Redfish
 * against the emulator (test/bmc/). `make` returns a driver for a machine that is powered on;
 * `observe` reads the machine's true state on the BMC's side (not through the driver);
 * `cut` makes the BMC stop answering.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BmcErrorCodes } from '../lib/errors.js';
import { isBmcError, type BmcDriver, type BootTarget, type PowerState } from './driver.js';
import { BmcFencer } from '../hypervisor/fence.js';

export interface BmcFixture {
  driver: BmcDriver;
  observe(): Promise<{ power: PowerState; boot: BootTarget | null }>;
  cut(): Promise<void> | void;
  close?(): Promise<void> | void;
}

export function runBmcContract(name: string, make: () => Promise<BmcFixture>): void {
  describe(`BmcDriver contract: ${name}`, () => {
    const withFixture = (fn: (f: BmcFixture) => Promise<void>) => async () => {
      const f = await make();
      try {
        await fn(f);
      } finally {
        await f.close?.();
      }
    };

    it('reads the power state the machine is in', withFixture(async (f) => {
      assert.equal((await f.observe()).power, 'on');
      assert.equal(await f.driver.powerState(), 'on');
    }));

    it('powers off and on, answering the state read back', withFixture(async (f) => {
      assert.equal(await f.driver.power('off'), 'off');
      assert.equal((await f.observe()).power, 'off');
      assert.equal(await f.driver.powerState(), 'off');
      assert.equal(await f.driver.power('on'), 'on');
      assert.equal((await f.observe()).power, 'on');
    }));

    it('a power cycle ends on, from on and from off', withFixture(async (f) => {
      assert.equal(await f.driver.power('cycle'), 'on');
      assert.equal((await f.observe()).power, 'on');
      await f.driver.power('off');
      assert.equal(await f.driver.power('cycle'), 'on');
      assert.equal((await f.observe()).power, 'on');
    }));

    it('sets a one-time PXE boot the BMC holds', withFixture(async (f) => {
      assert.equal((await f.observe()).boot, null);
      await f.driver.bootOnce('pxe');
      assert.equal((await f.observe()).boot, 'pxe');
    }));

    it('summarises health', withFixture(async (f) => {
      const h = await f.driver.health();
      assert.equal(h.power, 'on');
      assert.ok(Array.isArray(h.faults));
      assert.ok(h.events === null || (Number.isInteger(h.events) && h.events >= 0));
      assert.ok(h.recent.length <= 5);
    }));

    it('a BMC that does not answer is an UNREACHABLE error, and a fence through it is unknown', withFixture(async (f) => {
      await f.cut();
      await assert.rejects(f.driver.power('off'), (err: unknown) => isBmcError(err, BmcErrorCodes.UNREACHABLE));
      const fencer = new BmcFencer(new Map([['hv', f.driver]]));
      assert.equal(await fencer.fence('hv'), 'unknown');
    }));

    it('a fence through it powers off and reads back off', withFixture(async (f) => {
      const fencer = new BmcFencer(new Map([['hv', f.driver]]));
      assert.equal(await fencer.fence('hv'), 'off');
      assert.equal((await f.observe()).power, 'off');
    }));
  });
}
