/**
 * DHCP leases in memory, indexed by address and by MAC, written through to the store: a lease is
 * durable before the DHCP server may ACK it. Keyed by address, so one address is never held by
 * two clients; the allocation policy that uses it is the DHCP server's.
 */
import type { Lease, Store } from '../store/store.js';

export class LeaseTable {
  private readonly byIp = new Map<string, Lease>();
  private readonly byMac = new Map<string, Set<string>>();

  private constructor(private readonly store: Store) {}

  static async load(store: Store): Promise<LeaseTable> {
    const t = new LeaseTable(store);
    for (const l of await store.listLeases()) t.index(l);
    return t;
  }

  get size(): number {
    return this.byIp.size;
  }

  byAddress(ip: string): Lease | undefined {
    return this.byIp.get(ip);
  }

  /** Every lease (any state) held by a MAC. */
  forMac(mac: string): Lease[] {
    return [...(this.byMac.get(mac) ?? [])].map((ip) => this.byIp.get(ip)!);
  }

  all(): Lease[] {
    return [...this.byIp.values()];
  }

  /** Stores a lease; resolves once durable, and only then is it visible here. */
  async put(lease: Lease): Promise<void> {
    await this.store.write([{ op: 'putLease', lease }]);
    this.unindex(lease.ip);
    this.index(lease);
  }

  async remove(ip: string): Promise<void> {
    await this.store.write([{ op: 'deleteLease', ip }]);
    this.unindex(ip);
  }

  private index(l: Lease): void {
    this.byIp.set(l.ip, l);
    let set = this.byMac.get(l.mac);
    if (!set) this.byMac.set(l.mac, (set = new Set()));
    set.add(l.ip);
  }

  private unindex(ip: string): void {
    const old = this.byIp.get(ip);
    if (!old) return;
    this.byIp.delete(ip);
    const set = this.byMac.get(old.mac);
    set?.delete(ip);
    if (set && set.size === 0) this.byMac.delete(old.mac);
  }
}
