/**
 * POST /api/v1/hosts/NAME/power {"action": "on"|"off"|"cycle", "boot": "pxe"}: a host's (or
 * hypervisor's) power through its BMC, with an optional one-time PXE boot set first (what
 * `3rc boot HOST --install` does for a host with a BMC). The BMC is the config file's
 * (bmc/machine.ts); every change is read back, and the answer is the state read back. A BMC that
 * fails answers 502 with the driver's error code and message.
 */
import { Router, type RequestHandler } from 'express';
import { ErrorCodes, InputError, NotFoundError, ConflictError } from '../lib/errors.js';
import { isBmcError, type BmcDriver, type PowerAction } from '../bmc/driver.js';
import { netbootCycle } from '../bmc/machine.js';
import type { AppDeps } from './deps.js';
import { apiError } from './errors.js';

export function bmcRouter(deps: Pick<AppDeps, 'inventory' | 'bmc' | 'log'>, auth: RequestHandler): Router {
  const r = Router();
  r.post('/hosts/:name/power', auth, async (req, res) => {
    const name = String(req.params.name).toLowerCase();
    if (!deps.inventory.hostByName(name) && !deps.inventory.hypervisor(name)) throw new NotFoundError(ErrorCodes.UNKNOWN_HOST, `no host named ${JSON.stringify(name)}`);
    const body: unknown = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InputError(ErrorCodes.API, 'expected a JSON object like {"action": "cycle", "boot": "pxe"}');
    const { action, boot } = body as Record<string, unknown>;
    if (action !== 'on' && action !== 'off' && action !== 'cycle') throw new InputError(ErrorCodes.API, `action must be "on", "off" or "cycle", got ${JSON.stringify(action)}`, 'action');
    if (boot !== undefined && boot !== 'pxe') throw new InputError(ErrorCodes.API, `boot must be "pxe" (a one-time network boot) or absent, got ${JSON.stringify(boot)}`, 'boot');
    if (boot === 'pxe' && action !== 'cycle') throw new InputError(ErrorCodes.API, 'boot "pxe" goes with action "cycle" (the override is for the next boot)', 'boot');
    const driver: BmcDriver | undefined = deps.bmc?.(name);
    if (!driver) throw new ConflictError(ErrorCodes.API, `${name} has no BMC in the config file (hosts[].bmc or hypervisors[].bmc)`);
    const log = deps.log.child({ host: name, bmc: driver.kind });
    try {
      const result = boot === 'pxe' ? await netbootCycle(driver) : { bmc: driver.kind, boot: null, power: await driver.power(action as PowerAction) };
      log.info({ action, boot: result.boot, power: result.power }, `bmc: ${boot === 'pxe' ? 'one-time PXE boot set, power cycle' : `power ${String(action)}`} read back ${result.power}`);
      res.json({ host: name, ...result });
    } catch (err) {
      if (!isBmcError(err)) throw err;
      log.warn({ action, boot, code: err.code, err: err.message }, 'bmc: power change failed');
      apiError(res, 502, err.code, err.message);
    }
  });
  return r;
}
