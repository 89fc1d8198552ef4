/**
 * Hosts, hypervisors and profiles, in memory, indexed for O(1) lookups by MAC, IP and name:
 * every protocol server asks "who is this?" on every packet.
 */
import type { Config } from '../config/load.js';
import type { HostConfig, HypervisorConfig, ProfileConfig } from '../config/schema.js';
import { normalizeMac } from '../lib/net.js';

export type Host = HostConfig;
export type Profile = ProfileConfig;
export type Hypervisor = HypervisorConfig;

export class Inventory {
  private readonly byMac = new Map<string, Host>();
  private readonly byIp = new Map<string, Host>();
  private readonly byName = new Map<string, Host>();
  private readonly profileByName = new Map<string, Profile>();
  private readonly hypervisorByName = new Map<string, Hypervisor>();

  constructor(hosts: readonly Host[], profiles: readonly Profile[], hypervisors: readonly Hypervisor[]) {
    for (const p of profiles) this.profileByName.set(p.name, p);
    for (const h of hypervisors) this.hypervisorByName.set(h.name, h);
    for (const h of hosts) {
      this.byMac.set(h.mac, h);
      this.byIp.set(h.ip, h);
      this.byName.set(h.name, h);
    }
  }

  static fromConfig(config: Pick<Config, 'hosts' | 'profiles' | 'hypervisors'>): Inventory {
    return new Inventory(config.hosts, config.profiles, config.hypervisors);
  }

  /** Host by MAC in any common spelling (`52-54-00-...`, upper case). */
  hostByMac(mac: string): Host | undefined {
    return this.byMac.get(mac) ?? this.byMac.get(normalizeMac(mac) ?? '');
  }

  hostByIp(ip: string): Host | undefined {
    return this.byIp.get(ip);
  }

  hostByName(name: string): Host | undefined {
    return this.byName.get(name.toLowerCase());
  }

  profile(name: string): Profile | undefined {
    return this.profileByName.get(name);
  }

  hypervisor(name: string): Hypervisor | undefined {
    return this.hypervisorByName.get(name);
  }

  /** Hosts in config order. */
  hosts(): Host[] {
    return [...this.byName.values()];
  }

  profiles(): Profile[] {
    return [...this.profileByName.values()];
  }

  hypervisors(): Hypervisor[] {
    return [...this.hypervisorByName.values()];
  }

  /** VMs hosted (per the inventory) on a hypervisor. */
  vmsOn(hypervisor: string): Host[] {
    return this.hosts().filter((h) => h.hypervisor === hypervisor);
  }
}
