import { loadConfig } from '../../config/load.js';
import { hostView, type HostView } from '../../http/views.js';
import { withLocalState } from '../local-state.js';
import { EXIT_OK, table, type Io } from '../io.js';
import { findApi } from '../target.js';

export const help = `Usage: 3rc hosts [--config FILE] [--json]

Lists the hosts of the inventory with their boot entry, as the running 3rc sees them (through its
API), or from the store when no server runs.`;

export async function run(configFile: string, opts: { json: boolean }, io: Io): Promise<number> {
  const config = loadConfig(configFile);
  const api = await findApi(config, io.env);
  let hosts: HostView[];
  if (api) {
    hosts = await api.call<HostView[]>('GET', '/api/v1/hosts');
  } else {
    hosts = await withLocalState(config, async ({ inventory, bootTable }) => inventory.hosts().map((h) => hostView(h, bootTable.get(h.mac))));
  }
  if (opts.json) {
    io.out(JSON.stringify(hosts, null, 2));
    return EXIT_OK;
  }
  const rows = hosts.map((h) => [h.name, h.mac, h.ip, h.profile, h.boot ? (h.boot.mode === 'install' ? `install (${h.boot.profile})` : 'local') : '-', h.role ?? '-', h.hypervisor ?? '-']);
  for (const line of table(['NAME', 'MAC', 'IP', 'PROFILE', 'BOOT', 'ROLE', 'HYPERVISOR'], rows)) io.out(line);
  return EXIT_OK;
}
