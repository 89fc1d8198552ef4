import { loadConfig } from '../../config/load.js';
import { hostView, type HostView } from '../../http/views.js';
import type { Inventory } from '../../inventory/inventory.js';
import { ErrorCodes, InputError } from '../../lib/errors.js';
import { EXIT_OK, type Io } from '../io.js';
import { withLocalState } from '../local-state.js';
import { findApi } from '../target.js';
import { bmcTargetOf, netbootCycle, type NetbootCycle } from '../../bmc/machine.js';
import { openBmc } from '../../bmc/open.js';

export const help = `Usage: 3rc boot HOST --install [PROFILE] [--no-power] [--config FILE]
       3rc boot HOST --local [--config FILE]

Sets what HOST boots next: an install of PROFILE (default: its own profile) with a fresh
per-install token, or its local disk. Goes through the running 3rc's API (it needs the API token:
THREERC_API_TOKEN or the token file), or straight to the store when no server runs.

With --install, a host with a BMC in the config (hosts[].bmc or hypervisors[].bmc) is then made
to network-boot once through it (one-time PXE, read back) and power-cycled (off read back off,
then on), so that it starts its install now; --no-power only sets the boot entry.`;

function unknownHost(name: string): InputError {
  return new InputError(ErrorCodes.UNKNOWN_HOST, `no host named ${JSON.stringify(name)}`);
}

function checkProfile(inventory: Pick<Inventory, 'profile' | 'profiles'>, profile: string | undefined): void {
  if (profile !== undefined && !inventory.profile(profile)) {
    throw new InputError(ErrorCodes.UNKNOWN_PROFILE, `profile ${JSON.stringify(profile)} does not exist (profiles: ${inventory.profiles().map((p) => p.name).join(', ')})`);
  }
}

export async function run(configFile: string, hostName: string, want: { mode: 'install' | 'local'; profile?: string; noPower?: boolean }, io: Io): Promise<number> {
  const config = loadConfig(configFile);
  const api = await findApi(config, io.env);
  let shown: { name: string; mac: string; boot: NonNullable<HostView['boot']> };
  let via: string;
  if (api) {
    const hosts = await api.call<HostView[]>('GET', '/api/v1/hosts');
    const host = hosts.find((h) => h.name === hostName.toLowerCase());
    if (!host) throw unknownHost(hostName);
    const boot = await api.call<NonNullable<HostView['boot']>>('PUT', `/api/v1/hosts/${encodeURIComponent(host.name)}/boot`, { mode: want.mode, profile: want.profile, reason: 'cli' });
    shown = { name: host.name, mac: host.mac, boot };
    via = `through ${api.url}`;
  } else {
    shown = await withLocalState(config, async ({ inventory, bootTable }) => {
      const host = inventory.hostByName(hostName);
      if (!host) throw unknownHost(hostName);
      checkProfile(inventory, want.profile);
      const e = want.mode === 'install' ? await bootTable.setInstall(host.mac, { profile: want.profile, reason: 'cli' }) : await bootTable.setLocal(host.mac, { reason: 'cli' });
      return { name: host.name, mac: host.mac, boot: hostView(host, e).boot! };
    });
    via = `in the store ${config.store.path} (no server running)`;
  }
  io.out(`${shown.name} (${shown.mac}): ${shown.boot.mode === 'install' ? `install ${shown.boot.profile}` : 'local boot'}, set ${via}`);
  const bmc = want.mode === 'install' && !want.noPower ? bmcTargetOf(config, shown.name) : undefined;
  if (bmc) {
    // The BMC is driven where the boot entry was set: by the server when one runs, else from here.
    const cycled = api
      ? await api.call<NetbootCycle>('POST', `/api/v1/hosts/${encodeURIComponent(shown.name)}/power`, { action: 'cycle', boot: 'pxe' }, { timeoutMs: 180_000 })
      : await netbootCycle(openBmc(bmc));
    io.out(`${shown.name}: one-time PXE boot set and power-cycled through its BMC (${cycled.bmc}): power ${cycled.power}`);
  }
  return EXIT_OK;
}
