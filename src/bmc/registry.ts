/**
 * One driver per BMC for the whole process. The HA controller's fencer, `3rc hv` (drain,
 * reinstall, roll) and the API's power and boot calls all reach a machine's BMC through here, so
 * they share one driver: one Redfish session, one place that reads the password file, and the
 * same answer to "does this machine have a BMC". The entry comes from the config (bmc/machine.ts
 * bmcTargetOf: hosts[].bmc, else hypervisors[].bmc) when asked; a reload that changes a
 * machine's `bmc:` gets a new driver on its next call.
 */
import type { Config } from '../config/load.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/log.js';
import type { BmcDriver, BmcTarget } from './driver.js';
import { bmcTargetOf } from './machine.js';
import { openBmc } from './open.js';

export class BmcRegistry {
  private readonly drivers = new Map<string, { key: string; driver: BmcDriver }>();

  constructor(
    private readonly config: Pick<Config, 'hosts' | 'hypervisors'>,
    private readonly opts: { log?: Logger; clock?: Clock } = {},
    private readonly open: (t: BmcTarget, opts: { log?: Logger; clock?: Clock }) => BmcDriver = openBmc,
  ) {}

  /** The driver of the host or hypervisor `name`; undefined when the config gives it no BMC. */
  of(name: string): BmcDriver | undefined {
    const target = bmcTargetOf(this.config, name);
    if (!target) {
      this.drivers.delete(name);
      return undefined;
    }
    const key = JSON.stringify(target);
    const held = this.drivers.get(name);
    if (held?.key === key) return held.driver;
    const driver = this.open(target, this.opts);
    this.drivers.set(name, { key, driver });
    return driver;
  }
}
