/**
 * The check of one host changed through the API (inventory/catalog.ts): the config file's schema
 * and cross-field rules over the whole resulting host list. A module of its own so that the
 * catalog imports it (zod, with the config schema: about 10 MB of RSS) only when a host is
 * changed or a stored change is applied, never in a 3rc that serves its config file as it is.
 */
import type { Config } from '../config/load.js';
import { formatPath } from '../config/load.js';
import { checkRules } from '../config/rules.js';
import { hostSchema } from '../config/schema.js';
import type { Host } from './inventory.js';

export type RulesConfig = Pick<Config, 'network' | 'servers' | 'profiles' | 'hypervisors'>;

export interface HostProblem {
  field: string;
  message: string;
}

/**
 * Problems of `candidate` replacing the host named `replacing` (or added), judged over the whole
 * resulting list. Returns the validated host, or the problems.
 */
export function validateHost(config: RulesConfig, hosts: readonly Host[], candidate: unknown, replacing?: string): { host: Host } | { problems: HostProblem[] } {
  const parsed = hostSchema.safeParse(candidate, { reportInput: true });
  if (!parsed.success) {
    return {
      problems: parsed.error.issues.map((i) => {
        const path = i.code === 'unrecognized_keys' ? [...i.path, i.keys.join(', ')] : i.path;
        return { field: formatPath(path) || '(body)', message: i.code === 'unrecognized_keys' ? `unknown field` : i.message };
      }),
    };
  }
  const host = parsed.data;
  // The candidate goes last, so that every duplicate is reported against it.
  const others = hosts.filter((h) => h.name !== (replacing ?? host.name));
  const list = [...others, host];
  const at = list.length - 1;
  const problems = checkRules({ network: config.network, servers: config.servers, profiles: config.profiles, hypervisors: config.hypervisors, hosts: list })
    .filter((p) => p.path[0] === 'hosts' && p.path[1] === at)
    .map((p) => ({ field: formatPath(p.path.slice(2)), message: p.message }));
  if (replacing !== undefined && host.name !== replacing && hosts.some((h) => h.name === host.name)) {
    problems.push({ field: 'name', message: `a host named ${host.name} exists already` });
  }
  return problems.length ? { problems } : { host };
}
