import { loadConfig } from '../../config/load.js';
import type { ReloadPlan } from '../../config/reload.js';
import { ErrorCodes, ThreeRcError } from '../../lib/errors.js';
import { EXIT_OK, type Io } from '../io.js';
import { findApi } from '../target.js';

export const help = `Usage: 3rc reload [--config FILE]

Tells the running 3rc to read its config file again (as SIGHUP does; API token needed). The file
is validated completely first: an invalid one changes nothing, and every problem is printed with
its file, line and field. Hosts, profiles and vars are applied at once, in one step; leases, boot
entries flipped through the API, HA state and running transfers are kept. Changes elsewhere
(listen addresses, subnets, the store, HA settings, which hosts are VMs) need a restart: they are
listed and not applied. Templates need no reload (they are read again when their file changes).`;

export async function run(configFile: string, io: Io): Promise<number> {
  const config = loadConfig(configFile);
  const api = await findApi(config, io.env);
  if (!api) throw new ThreeRcError(ErrorCodes.API, `no running 3rc answers at the config's HTTP address: nothing to reload (3rc serve reads ${config.source} when it starts)`);
  const plan = await api.call<ReloadPlan>('POST', '/api/v1/reload');
  io.out(`reloaded ${config.source} in the 3rc at ${api.url}`);
  io.out(plan.applied.length ? `applied: ${plan.applied.join(', ')}` : 'applied: nothing changed in hosts, profiles or vars');
  for (const [what, d] of [['hosts', plan.hosts], ['profiles', plan.profiles]] as const) {
    const parts = [['added', d.added], ['removed', d.removed], ['changed', d.changed]].filter(([, l]) => l!.length).map(([k, l]) => `${k as string} ${(l as string[]).join(' ')}`);
    if (parts.length) io.out(`  ${what}: ${parts.join('; ')}`);
  }
  if (plan.needsRestart.length) io.out(`not applied, needs a restart: ${plan.needsRestart.join(', ')}`);
  return EXIT_OK;
}
