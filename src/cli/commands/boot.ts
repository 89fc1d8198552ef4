import { loadConfig } from '../../config/load.js';
import type { HostView } from '../../http/api.js';
import { BootTable } from '../../inventory/boot-table.js';
import { Inventory } from '../../inventory/inventory.js';
import { systemClock } from '../../lib/clock.js';
import { ErrorCodes, InputError } from '../../lib/errors.js';
import { openStore } from '../../main.js';
import { EXIT_OK, type Io } from '../io.js';
import { findApi } from '../target.js';

export const help = `Usage: 3rc boot HOST --install [PROFILE] [--config FILE]
       3rc boot HOST --local [--config FILE]

Sets what HOST boots next: an install of PROFILE (default: its own profile) with a fresh
per-install token, or its local disk. Goes through the running 3rc's API (it needs the API token:
THREERC_API_TOKEN or the token file), or straight to the store when no server runs.`;

export async function run(configFile: string, hostName: string, want: { mode: 'install' | 'local'; profile?: string }, io: Io): Promise<number> {
  const config = loadConfig(configFile);
  const inventory = Inventory.fromConfig(config);
  const host = inventory.hostByName(hostName);
  if (!host) throw new InputError(ErrorCodes.UNKNOWN_HOST, `no host named ${JSON.stringify(hostName)} in ${configFile}`);
  if (want.profile !== undefined && !inventory.profile(want.profile)) {
    throw new InputError(ErrorCodes.UNKNOWN_PROFILE, `profile ${JSON.stringify(want.profile)} does not exist (profiles: ${inventory.profiles().map((p) => p.name).join(', ')})`);
  }
  const api = await findApi(config, io.env);
  let boot: NonNullable<HostView['boot']>;
  let via: string;
  if (api) {
    boot = await api.call('PUT', `/api/v1/hosts/${encodeURIComponent(host.name)}/boot`, { mode: want.mode, profile: want.profile, reason: 'cli' });
    via = `through ${api.url}`;
  } else {
    const store = openStore(config, { exclusive: false });
    try {
      const table = await BootTable.load({ store, inventory, clock: systemClock });
      const e = want.mode === 'install' ? await table.setInstall(host.mac, { profile: want.profile, reason: 'cli' }) : await table.setLocal(host.mac, { reason: 'cli' });
      boot = { mode: e.mode, profile: e.profile, since: new Date(e.since).toISOString() };
    } finally {
      await store.close();
    }
    via = `in the store ${config.store.path} (no server running)`;
  }
  io.out(`${host.name} (${host.mac}): ${boot.mode === 'install' ? `install ${boot.profile}` : 'local boot'}, set ${via}`);
  return EXIT_OK;
}
