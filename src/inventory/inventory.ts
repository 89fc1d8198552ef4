/**
 * Hosts, hypervisors and profiles, in memory, indexed for O(1) lookups by MAC, IP and name:
 * every protocol server asks "who is this?" on every packet.
 */
import { EventEmitter } from 'node:events';
import type { Config } from '../config/load.js';
import type { HostConfig, HypervisorConfig, ProfileConfig } from '../config/schema.js';
import { normalizeMac } from '../lib/net.js';

export type Host = HostConfig;
export type Profile = ProfileConfig;
export type Hypervisor = HypervisorConfig;

/**
 * A hypervisor with a MAC and a profile as the host that DHCP, TFTP, HTTP, DNS and the boot table
 * serve (a physical machine: no `hypervisor`, never a VM of HA); undefined for one without.
 */
export function hostOfHypervisor(hv: Hypervisor): Host | undefined {
  if (hv.mac === undefined || hv.profile === undefined) return undefined;
  return {
    name: hv.name,
    mac: hv.mac,
    ip: hv.address,
    ...(hv.ipv6 !== undefined ? { ipv6: hv.ipv6 } : {}),
    profile: hv.profile,
    ...(hv.role !== undefined ? { role: hv.role } : {}),
    ...(hv.hinfo !== undefined ? { hinfo: hv.hinfo } : {}),
    // HA never reinstalls a hypervisor by itself: `3rc hv reinstall` does, after a drain.
    reinstall: false,
    priority: 0,
    cpus: 1,
    memoryMb: 1024,
    boot: hv.boot,
    vars: hv.vars,
  };
}

/**
 * Hosts can change at run time (the API); every change replaces the host list at once and emits
 * `change`, so that readers (DNS zone, DHCP, TFTP) never see half an update.
 */
export class Inventory extends EventEmitter<{ change: [] }> {
  private byMac = new Map<string, Host>();
  private byIp = new Map<string, Host>();
  private byName = new Map<string, Host>();
  private readonly profileByName = new Map<string, Profile>();
  private readonly hypervisorByName = new Map<string, Hypervisor>();
  /** The hypervisors served as hosts (hostOfHypervisor), after the other hosts in every list. */
  private readonly hypervisorHosts: Host[] = [];
  private generation = 0;

  constructor(hosts: readonly Host[], profiles: readonly Profile[], hypervisors: readonly Hypervisor[]) {
    super();
    for (const p of profiles) this.profileByName.set(p.name, p);
    for (const h of hypervisors) {
      this.hypervisorByName.set(h.name, h);
      const asHost = hostOfHypervisor(h);
      if (asHost) this.hypervisorHosts.push(asHost);
    }
    this.index(hosts);
  }

  /**
   * `hosts` may hold the hypervisors' hosts (a caller that edits the list it got from hosts()):
   * those always come from the hypervisors, never from the list.
   */
  private index(hosts: readonly Host[]): void {
    const byMac = new Map<string, Host>();
    const byIp = new Map<string, Host>();
    const byName = new Map<string, Host>();
    for (const h of [...hosts.filter((x) => !this.isHypervisorHost(x.name)), ...this.hypervisorHosts]) {
      byMac.set(h.mac, h);
      byIp.set(h.ip, h);
      if (h.ipv6) byIp.set(h.ipv6, h); // canonical (config schema): TFTP and HTTP peers over IPv6
      byName.set(h.name, h);
    }
    this.byMac = byMac;
    this.byIp = byIp;
    this.byName = byName;
  }

  /** Replaces every host at once (validated by the caller) and tells the readers. */
  replaceHosts(hosts: readonly Host[]): void {
    this.index(hosts);
    this.generation++;
    this.emit('change');
  }

  /** Replaces every profile at once (a config reload; validated by the caller). */
  replaceProfiles(profiles: readonly Profile[]): void {
    this.profileByName.clear();
    for (const p of profiles) this.profileByName.set(p.name, p);
  }

  /** Increases with every change of the host list (for caches such as the DNS zone). */
  get version(): number {
    return this.generation;
  }

  static fromConfig(config: Pick<Config, 'hosts' | 'profiles' | 'hypervisors'>): Inventory {
    return new Inventory(config.hosts, config.profiles, config.hypervisors);
  }

  /** Host by MAC in any common spelling (`52-54-00-...`, upper case). */
  hostByMac(mac: string): Host | undefined {
    return this.byMac.get(mac) ?? this.byMac.get(normalizeMac(mac) ?? '');
  }

  /** Host by its reserved IPv4 address or its IPv6 one (canonical form, as hosts[].ipv6 holds it). */
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

  /** A hypervisor's host (its definition lives in hypervisors[], not in hosts[] or the API). */
  isHypervisorHost(name: string): boolean {
    return this.hypervisorHosts.some((h) => h.name === name.toLowerCase());
  }

  /**
   * Hypervisors that are no host (no MAC, or no profile): the DNS zone still names them by their
   * address. A host of the same name wins.
   */
  hypervisorsWithoutHost(): Hypervisor[] {
    return this.hypervisors().filter((h) => !this.byName.has(h.name));
  }

  /** Hosts in config order, then the hypervisors served as hosts. */
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
