/**
 * Opens the driver a hypervisor's `bmc:` names. The password file's permissions are checked
 * (a warning when others may read it); Redfish reads the password and the pinned CA when it
 * logs in, IPMI hands the file to ipmitool.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from '../lib/log.js';
import type { Clock } from '../lib/clock.js';
import { BmcErrorCodes } from '../lib/errors.js';
import { BmcError, type BmcDriver, type BmcTarget } from './driver.js';
import { IpmiDriver } from './ipmi.js';
import { RedfishDriver } from './redfish.js';
import { readSecret, secretFileWarning } from './secret.js';

export function openBmc(t: BmcTarget, opts: { log?: Logger; clock?: Clock } = {}): BmcDriver {
  const warning = secretFileWarning(t.passwordFile);
  if (warning) opts.log?.warn({ hypervisor: t.host }, `bmc: ${warning}`);
  if (t.driver === 'ipmi') return new IpmiDriver({ host: t.host, address: t.address, user: t.user, passwordFile: t.passwordFile, cipherSuite: t.cipherSuite, clock: opts.clock });
  // Read when used, so that a file missing at startup fails that BMC's calls (a fence: unknown), not 3rc.
  const caFile = t.caFile;
  const ca = caFile
    ? () => {
        try {
          return readFileSync(caFile);
        } catch (err) {
          throw new BmcError(BmcErrorCodes.SECRET, t.host, `CA file ${caFile} cannot be read: ${(err as Error).message}`, { cause: err });
        }
      }
    : undefined;
  return new RedfishDriver({ host: t.host, address: t.address, user: t.user, password: () => readSecret(t.host, t.passwordFile), ca, clock: opts.clock });
}
