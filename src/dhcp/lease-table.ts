/**
 * DHCP leases in memory, indexed by address and by MAC, written through to the store: a lease is
 * durable before the DHCP server may ACK it. Keyed by address, so one address is never held by
 * two clients; the allocation policy that uses it is the DHCP server's (policy.ts).
 *
 * put() shows a lease only once durable; the DHCP server uses hold() (offers, memory only) and
 * commit() (visible at once, durable when it resolves) so that two requests handled in the same
 * tick can never be given the same address.
 */
import type { Store } from '../store/store.js';
import type { Lease } from '../domain/lease.js';

/** The lease table: O(1) by address and by MAC; see the module comment for durability. */
export class LeaseTable {
  private readonly byIp = new Map<string, Lease>();
  private readonly byMac = new Map<string, Set<string>>();

  private constructor(private readonly store: Store) {}

  /**
   * The leases of one address family: the store keeps DHCPv4 and DHCPv6 leases in one table
   * (keyed by address, the two never collide), each server loads its own.
   */
  static async load(store: Store, family: 'ipv4' | 'ipv6' = 'ipv4'): Promise<LeaseTable> {
    const t = new LeaseTable(store);
    for (const l of await store.listLeases()) if (l.ip.includes(':') === (family === 'ipv6')) t.index(l);
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
    const ips = this.byMac.get(mac);
    const out: Lease[] = [];
    if (ips) for (const ip of ips) out.push(this.byIp.get(ip)!);
    return out;
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

  /**
   * Holds an address for an offer, in memory only (an offer lost in a crash costs the client one
   * more DISCOVER; writing every offer would halve the lease rate). Visible at once, so a second
   * DISCOVER handled in the same tick never gets the same address.
   */
  hold(lease: Lease): void {
    this.unindex(lease.ip);
    this.index(lease);
  }

  /** Drops an offer that `mac` turned down (it chose another server). Bound leases are kept. */
  unhold(ip: string, mac: string): void {
    const l = this.byIp.get(ip);
    if (l && l.mac === mac && l.state === 'offered') this.unindex(ip);
  }

  /**
   * Stores a lease that will be acknowledged: visible here synchronously (so concurrent requests
   * already see the address taken), durable when the promise resolves (the ACK is sent only
   * then). If the write fails, the previous lease for the address is put back.
   */
  async commit(lease: Lease): Promise<void> {
    const previous = this.byIp.get(lease.ip);
    this.unindex(lease.ip);
    this.index(lease);
    try {
      await this.store.write([{ op: 'putLease', lease }]);
    } catch (err) {
      if (this.byIp.get(lease.ip) === lease) {
        this.unindex(lease.ip);
        if (previous) this.index(previous);
      }
      throw err;
    }
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
