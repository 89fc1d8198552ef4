import { loadConfig } from '../../config/load.js';
import { EXIT_OK, type Io } from '../io.js';

export const help = `Usage: 3rc check-config [--config FILE]

Validates a config file: YAML syntax, every field, and the rules across fields (duplicate MACs,
IPs or names, addresses outside every subnet, unknown profiles or hypervisors, missing templates).
Prints one line per problem (file:line: path: what was expected) and exits 1, or a summary and 0.`;

export function run(configFile: string, io: Io): number {
  const c = loadConfig(configFile);
  for (const w of c.warnings) io.err(`warning: ${w}`);
  const vms = c.hosts.filter((h) => h.hypervisor).length;
  io.out(`${configFile}: OK: ${c.network.subnets.length} subnet(s), ${c.profiles.length} profile(s), ${c.hosts.length} host(s) (${vms} VM(s)), ${c.hypervisors.length} hypervisor(s); domain ${c.network.domain}; store ${c.store.kind} at ${c.store.path}`);
  return EXIT_OK;
}
