/**
 * Hosts changed through the API: validated exactly like the config file (same schema, same
 * cross-field rules, over the whole resulting host list), persisted as overrides in the store
 * before the inventory changes, and applied over the config's hosts at every start.
 *
 * A host's power commands (hosts[].power) run on the 3rc host itself, so they come from the
 * config file only: an override never carries them (put refuses a candidate that sets them, load
 * drops them from an override stored by an older 3rc), and a host takes the power commands of
 * the config file's host of the same name, if any.
 */
import type { Config } from '../config/load.js';
import type { Clock } from '../lib/clock.js';
import { ErrorCodes, InputError, NotFoundError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { newEvent } from '../events/kinds.js';
import type { Store } from '../store/store.js';
import type { BootTable } from './boot-table.js';
import type { Host, Inventory } from './inventory.js';
import type { RulesConfig } from './validate-host.js';

export type { HostProblem, RulesConfig } from './validate-host.js';

/** The host validator (the config schema: zod), imported at the first host it checks. */
const validator = () => import('./validate-host.js');

/**
 * A validated host as an override (what put takes and the store keeps): everything but its power
 * commands, which come from the config file only.
 */
export function hostAsInput(h: Host): Record<string, unknown> {
  const { power: _power, ...rest } = JSON.parse(JSON.stringify(h)) as Record<string, unknown>;
  return rest;
}

/** The power commands of a config file's host as validateHost input (durations back to text with their unit). */
function powerInput(power: NonNullable<Host['power']>): Record<string, unknown> {
  return { ...power, timeout: `${power.timeout}ms` };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Refusal of a candidate that sets power commands (the API answers it with 400, field power). */
export const POWER_FROM_CONFIG_ONLY = 'power commands run on the 3rc host, so they come from the config file only (hosts[].power): they cannot be set through the API; a host keeps the power commands of the config file\'s host of its name';

/** Refusal of an API change to a hypervisor's host. */
export const HYPERVISOR_FROM_CONFIG_ONLY = 'a hypervisor: its MAC, address and profile come from the config file (hypervisors[]), not from the API';

export interface CatalogDeps {
  config: RulesConfig & Pick<Config, 'hosts'>;
  store: Store;
  inventory: Inventory;
  clock: Clock;
  log: Logger;
}

export class HostCatalog {
  constructor(private readonly deps: CatalogDeps) {}

  /** An override as validateHost input: with the config file's power commands of its name, if any. */
  private withConfigPower(candidate: Record<string, unknown>, config: Pick<Config, 'hosts'> = this.deps.config): Record<string, unknown> {
    const name = typeof candidate.name === 'string' ? candidate.name.toLowerCase() : undefined;
    const own = config.hosts.find((h) => h.name === name)?.power;
    return own ? { ...candidate, power: powerInput(own) } : candidate;
  }

  /** Applies the stored overrides over the config's hosts; an override that no longer fits is skipped and logged. */
  async load(): Promise<void> {
    this.deps.inventory.replaceHosts(await this.hostsFor(this.deps.config));
  }

  /**
   * The hosts `config` gives once the stored overrides are applied over them; changes nothing
   * (a config reload computes them before it switches anything: see main.ts).
   */
  async hostsFor(config: RulesConfig & Pick<Config, 'hosts'>): Promise<Host[]> {
    let hosts: Host[] = [...config.hosts];
    const overrides = await this.deps.store.listHostOverrides();
    if (overrides.length === 0) return hosts;
    const { validateHost } = await validator();
    for (const o of overrides) {
      if (o.host === null) {
        hosts = hosts.filter((h) => h.name !== o.name);
        continue;
      }
      let stored = o.host as unknown;
      if (isRecord(stored) && 'power' in stored) {
        // Stored by a 3rc that still took power commands from the API: never run them.
        this.deps.log.warn({ host: o.name }, 'a host changed through the API carries power commands: dropped (they come from the config file only)');
        const { power: _power, ...rest } = stored;
        stored = rest;
      }
      const r = validateHost(config, hosts, isRecord(stored) ? this.withConfigPower(stored, config) : stored, o.name);
      if ('problems' in r) {
        this.deps.log.error({ host: o.name, problems: r.problems }, 'a host changed through the API no longer fits the config: ignored');
        continue;
      }
      const i = hosts.findIndex((h) => h.name === o.name);
      if (i >= 0) hosts[i] = r.host;
      else hosts.push(r.host);
    }
    return hosts;
  }

  /** Creates (replacing undefined) or replaces a host. Throws InputError with the field. */
  async put(candidate: unknown, replacing?: string): Promise<Host> {
    const { validateHost } = await validator(); // before the hosts are read: nothing changes them from here to the write
    const hosts = this.deps.inventory.hosts();
    if (replacing !== undefined && !hosts.some((h) => h.name === replacing)) throw new NotFoundError(ErrorCodes.UNKNOWN_HOST, `no host named ${JSON.stringify(replacing)}`);
    if (replacing !== undefined && this.deps.inventory.isHypervisorHost(replacing)) throw new InputError(ErrorCodes.API, `${replacing}: ${HYPERVISOR_FROM_CONFIG_ONLY}`, 'name');
    if (isRecord(candidate) && 'power' in candidate) throw new InputError(ErrorCodes.API, `power: ${POWER_FROM_CONFIG_ONLY}`, 'power');
    const r = validateHost(this.deps.config, hosts, isRecord(candidate) ? this.withConfigPower(candidate) : candidate, replacing);
    if ('problems' in r) {
      const first = r.problems[0]!;
      throw new InputError(ErrorCodes.API, r.problems.map((p) => `${p.field}: ${p.message}`).join('; '), first.field);
    }
    const host = r.host;
    if (replacing === undefined && hosts.some((h) => h.name === host.name)) throw new InputError(ErrorCodes.API, `a host named ${host.name} exists already (PUT /api/v1/hosts/${host.name} replaces it)`, 'name');
    const now = this.deps.clock.now();
    const ops: Parameters<Store['write']>[0] = [];
    if (replacing !== undefined && replacing !== host.name) ops.push({ op: 'putHostOverride', override: { name: replacing, host: null, updatedAt: now } });
    ops.push({ op: 'putHostOverride', override: { name: host.name, host: hostAsInput(host), updatedAt: now } });
    ops.push({ op: 'appendEvent', event: newEvent(replacing === undefined ? 'host.created' : 'host.updated', { at: now, host: host.name, mac: host.mac, reason: 'api' }, null) });
    await this.deps.store.write(ops);
    const next = replacing === undefined ? [...hosts, host] : hosts.map((h) => (h.name === replacing ? host : h));
    this.deps.inventory.replaceHosts(next);
    return host;
  }

  async remove(name: string): Promise<Host> {
    const hosts = this.deps.inventory.hosts();
    const host = hosts.find((h) => h.name === name.toLowerCase());
    if (!host) throw new NotFoundError(ErrorCodes.UNKNOWN_HOST, `no host named ${JSON.stringify(name)}`);
    if (this.deps.inventory.isHypervisorHost(host.name)) throw new InputError(ErrorCodes.API, `${host.name}: ${HYPERVISOR_FROM_CONFIG_ONLY}`, 'name');
    const now = this.deps.clock.now();
    await this.deps.store.write([
      { op: 'putHostOverride', override: { name: host.name, host: null, updatedAt: now } },
      { op: 'appendEvent', event: newEvent('host.deleted', { at: now, host: host.name, mac: host.mac, reason: 'api' }, null) },
    ]);
    this.deps.inventory.replaceHosts(hosts.filter((h) => h !== host));
    return host;
  }
}

/** Boot entries follow host changes: a new MAC gets its entry, a removed one loses it. */
export async function syncBootEntries(bootTable: BootTable, before: Host | undefined, after: Host | undefined): Promise<void> {
  if (before && (!after || after.mac !== before.mac)) await bootTable.remove(before.mac, 'host-removed');
  if (after) await bootTable.ensure(after, 'host-added');
}
