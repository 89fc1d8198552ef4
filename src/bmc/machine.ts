/**
 * A machine's BMC by its inventory name, and the network-boot power cycle that `3rc boot HOST
 * --install` ends with: a one-time PXE override (read back), then a power cycle (off read back
 * off, then on). The BMC comes from the config file only (hosts[].bmc, else hypervisors[].bmc):
 * its password file is read on the 3rc host, so the API can neither set nor change it.
 */
import type { Config } from '../config/load.js';
import type { BmcDriver, BmcTarget, PowerState } from './driver.js';

/** The BMC of the host or hypervisor named `name` in the config; undefined when it has none. */
export function bmcTargetOf(config: Pick<Config, 'hosts' | 'hypervisors'>, name: string): BmcTarget | undefined {
  const bmc = config.hosts.find((h) => h.name === name)?.bmc ?? config.hypervisors.find((h) => h.name === name)?.bmc;
  return bmc ? { ...bmc, host: name } : undefined;
}

/** What a network-boot power cycle did: the override set and the power read back after the cycle. */
export interface NetbootCycle {
  bmc: string;
  boot: 'pxe';
  power: PowerState;
}

/**
 * Makes the machine's next boot (only that one) a PXE boot, then power-cycles it. The override
 * is set first: a machine that is off is powered on straight into the network boot. Throws the
 * driver's BmcError when either step fails (nothing is retried: the caller says what failed).
 */
export async function netbootCycle(driver: BmcDriver): Promise<NetbootCycle> {
  await driver.bootOnce('pxe');
  const power = await driver.power('cycle');
  return { bmc: driver.kind, boot: 'pxe', power };
}
